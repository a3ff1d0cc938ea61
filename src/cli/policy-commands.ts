import { jsonToStruct } from '../broker/struct';
import { call } from '../client/grpc-client';
import type { ExplainResponse__Output } from '../gen/secretbroker/v1/ExplainResponse';
import type { ReloadPoliciesResponse__Output } from '../gen/secretbroker/v1/ReloadPoliciesResponse';
import { loadPolicies, type App } from '../app';
import { replayDecisions, type ReplayFlip } from '../broker/policy-replay';
import { parseDuration } from '../config/duration';
import { loadConfig } from '../config/load';
import { openSqliteLedgerReadOnly } from '../evidence/ledger/sqlite-ledger-storage';
import { failedPrecondition } from '../lib/errors';
import { createPolicyEngine, loadPolicySet, type Explanation } from '../policy';
import { parsePolicyTests, runPolicyTest, type PolicyTestResult } from '../policy/policy-test-cases';
import { lintPolicySet } from '../policy/policy-lint';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { EXIT, UsageError, emit, type CliIo } from './cli-io';
import { parseParams, withClients } from './client-flags';
import { CLIENT_FLAGS, JSON_FLAG, list, str, type Command } from './command';
import { formatExplanation } from './lease-commands';
import { safeJson, shown } from './terminal-text';

export const policyExplainCommand: Command = Object.freeze<Command>({
  path: ['policy', 'explain'],
  summary: "dry run: what RequestLease would decide for AGENT now (current policy, trust, budgets); grants, reserves and records nothing (role auditor); exit 3 when it would be denied",
  usage: 'policy explain AGENT ACTION [RESOURCE] [--param k=v]... [--params-json JSON]',
  options: { ...CLIENT_FLAGS, param: { type: 'string', multiple: true }, 'params-json': { type: 'string' } },
  positionals: [2, 3],
  async run(values, [agent, action, resource], io) {
    const params = parseParams(list(values, 'param'), str(values, 'params-json'));
    const res = await withClients(values, io, (c) =>
      call<unknown, ExplainResponse__Output>(c.operator, 'Explain', { agent, action, resource: resource ?? '', params: jsonToStruct(params) }),
    );
    emit(io, values.json === true, { status: res.status, explanation: res.explanation }, () => `${res.status}: ${agent} ${action}${resource ? ` on ${resource}` : ''}\n${formatExplanation(res.explanation)}`);
    return res.status === 'DENIED' ? EXIT.denied : EXIT.ok;
  },
});

export const policyReloadCommand: Command = Object.freeze<Command>({
  path: ['policy', 'reload'],
  summary: "reload the daemon's policy files: all checked before the swap (the old set keeps serving on any problem); active leases re-evaluated (role admin; SIGHUP does the same)",
  usage: 'policy reload',
  options: CLIENT_FLAGS,
  positionals: [0, 0],
  async run(values, _pos, io) {
    const res = await withClients(values, io, (c) => call<unknown, ReloadPoliciesResponse__Output>(c.operator, 'ReloadPolicies', {}));
    emit(io, values.json === true, res, () =>
      res.changed
        ? [
            `policy set ${res.policyVersion.slice(0, 12)} loaded (${res.policies} policies; was ${res.previousVersion.slice(0, 12)})${res.evidence ? `, policy.loaded at index ${res.evidence.index}` : ''}`,
            `  ${res.reevaluated} active leases re-evaluated, ${res.revoked.length} revoked`,
            ...res.revoked.map((l) => `  revoked ${l.leaseId} (${l.agent} ${l.action} on ${l.resource})`),
          ].join('\n')
        : `policy set ${res.policyVersion.slice(0, 12)} unchanged (${res.policies} policies); nothing recorded`,
    );
    return EXIT.ok;
  },
});

/** serve and dev: SIGHUP reloads the policy files as ReloadPolicies does. Returns the remover. */
export function reloadOnSighup(app: Pick<App, 'policies' | 'log'>, io: CliIo): () => void {
  const onHup = (): void => {
    app.policies.reload('signal:SIGHUP').then(
      (r) => io.stderr.write(r.changed ? `SIGHUP: policy set ${r.version.slice(0, 12)} loaded; ${r.revoked.length} of ${r.reevaluated} active leases revoked\n` : `SIGHUP: policy set unchanged\n`),
      (err: unknown) => io.stderr.write(`SIGHUP: policy reload refused, the old set keeps serving: ${(err as Error).message}\n`),
    );
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}

/** An explanation as indented lines (the policy module's own type; the gRPC one prints through formatExplanation). */
export function explanationLines(e: Explanation | { summary: string }, indent = '    '): string[] {
  if (!('decision' in e)) return [`${indent}${e.summary}`];
  const lines = [`${indent}${e.decision}: ${shown(e.summary)}`];
  for (const d of e.deciding_policies) lines.push(`${indent}  decided by ${d.id}: ${d.reason}`);
  for (const c of e.candidates) {
    if (c.failed_conditions.length === 0) continue;
    lines.push(`${indent}  candidate ${c.id}: requires ${c.requires}`);
    for (const f of c.failed_conditions) lines.push(`${indent}    failed: ${shown(f)}`);
  }
  lines.push(`${indent}  trust: ${e.trust.score} (${e.trust.tier})`);
  if (e.hint) lines.push(`${indent}  next: ${shown(e.hint)}`);
  return lines;
}

/** --since/--until: an RFC 3339 time, or a duration back from now ("24h"). */
export function parseWhen(flag: string, text: string, now: number): number {
  const back = parseDuration(text);
  if (back !== undefined) return now - back;
  const t = /^\d{4}-\d{2}-\d{2}(T|$)/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw new UsageError(`--${flag}: expected an RFC 3339 time (2026-12-04T10:00:00Z) or a duration back from now (24h)`);
  return t;
}

function flipLines(f: ReplayFlip): string {
  return [
    `#${f.index} ${f.time} ${f.agent} ${f.action} on ${shown(f.resource)}: ${f.before.decision} -> ${f.after.decision}${f.count > 1 ? ` (x${f.count}, folded)` : ''}`,
    `  before (policy ${f.before.policy_version.slice(0, 12)}):`,
    ...explanationLines(f.before.explanation),
    `  after (policy ${f.after.policy_version.slice(0, 12)}):`,
    ...explanationLines(f.after.explanation),
  ].join('\n');
}

export const policyReplayCommand: Command = Object.freeze<Command>({
  path: ['policy', 'replay'],
  summary: 're-decide the recorded decisions of a window under candidate policies and list each that would flip (local; reads the evidence log, daemon up or down; T is RFC 3339 or a duration back from now, e.g. 24h)',
  usage: 'policy replay --config FILE --policies DIR --since T [--until T] [--json]',
  options: { config: { type: 'string' }, policies: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, ...JSON_FLAG },
  positionals: [0, 0],
  async run(values, _pos, io) {
    const file = str(values, 'config');
    const dir = str(values, 'policies');
    const sinceText = str(values, 'since');
    if (!file || !dir || !sinceText) throw new UsageError('policy replay needs --config FILE --policies DIR --since T');
    const now = Date.now();
    const since = parseWhen('since', sinceText, now);
    const untilText = str(values, 'until');
    const until = untilText !== undefined ? parseWhen('until', untilText, now) : undefined;
    const config = loadConfig(file);
    if (config.state.kind !== 'sqlite') throw failedPrecondition('policy replay reads the evidence log from the SQLite state database; this config keeps its state in PostgreSQL');
    const candidate = await loadPolicies({ ...config, policies: dir });
    // The serving set explains the recorded side when an entry carries no explanation; a broken one only loses that.
    const baseline = await loadPolicies(config).catch(() => undefined);
    const db = openSqliteLedgerReadOnly(config.state.path);
    const json = values.json === true;
    try {
      const summary = await replayDecisions({
        config,
        candidate,
        ...(baseline ? { baseline } : {}),
        source: { size: () => db.storage.size(), entries: (s, e) => db.storage.entries(s, e), getEntry: (i) => db.storage.getEntry(i) },
        since,
        ...(until !== undefined ? { until } : {}),
        // Streamed: one line (JSON Lines with --json) per flip as it is found.
        onFlip: (f) => void io.stdout.write((json ? safeJson({ flip: f }, 0) : flipLines(f)) + '\n'),
      });
      const sk = summary.skipped;
      const skipped = sk.no_inputs + sk.inputs_over_cap + sk.unknown_agent_or_action + sk.flood + sk.break_glass;
      if (json) io.stdout.write(safeJson({ summary }, 0) + '\n');
      else {
        const changes = Object.entries(summary.by_change).map(([k, v]) => `${k} ${v}`).join(', ');
        io.stdout.write(
          `${summary.flipped} of ${summary.replayed} replayed decisions would flip under ${dir} (policy ${summary.candidate_version.slice(0, 12)})${changes ? `: ${changes}` : ''}; ` +
            `${summary.decisions} in the window, ${skipped} skipped (${sk.no_inputs} without recorded inputs, ${sk.inputs_over_cap} over the inputs cap, ${sk.unknown_agent_or_action} for an agent or action not in the config, ${sk.flood} folded in a flood, ${sk.break_glass} granted under break-glass)\n`,
        );
      }
      return EXIT.ok;
    } finally {
      db.close();
    }
  },
});

function testLine(r: PolicyTestResult): string {
  const obl = (o: readonly string[] | undefined) => (o && o.length ? ` [${o.join(', ')}]` : '');
  if (r.ok) return `ok    ${r.file}: ${r.name}: ${r.got.decision}${obl(r.got.obligations)}`;
  const head = `FAIL  ${r.file}: ${r.name}: expected ${r.expected.decision}${obl(r.expected.obligations)}, got ${r.error ? `an error: ${r.error.split('\n')[0]}` : `${r.got.decision}${obl(r.got.obligations)}`}`;
  return [head, ...(r.explanation ? explanationLines(r.explanation, '      ') : [])].join('\n');
}

export const policyTestCommand: Command = Object.freeze<Command>({
  path: ['policy', 'test'],
  summary: 'run table-driven YAML cases (request and expected decision, obligations) against a policy directory (local); exit 1 on any mismatch',
  usage: 'policy test FILE... --policies DIR [--json]',
  options: { policies: { type: 'string' }, ...JSON_FLAG },
  positionals: [1, 1000],
  async run(values, files, io) {
    const dir = str(values, 'policies');
    if (!dir) throw new UsageError('policy test needs --policies DIR');
    // Policy only, no config: approval groups are checked by `config check` and `policy lint`.
    const engine = createPolicyEngine(await loadPolicySet(dir));
    const cases = [];
    for (const f of files) {
      let text: string;
      try {
        text = await readFile(path.resolve(io.cwd, f), 'utf8');
      } catch (err) {
        throw new UsageError(`${f}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      cases.push(...parsePolicyTests(f, text));
    }
    const results = cases.map((c) => runPolicyTest(engine, c));
    const failed = results.filter((r) => !r.ok).length;
    emit(io, values.json === true, { ok: failed === 0, policy_version: engine.version, passed: results.length - failed, failed, cases: results }, () =>
      [...results.map(testLine), `${results.length} cases: ${results.length - failed} passed, ${failed} failed (policy ${engine.version.slice(0, 12)})`].join('\n'),
    );
    return failed === 0 ? EXIT.ok : EXIT.failure;
  },
});

export const policyLintCommand: Command = Object.freeze<Command>({
  path: ['policy', 'lint'],
  summary: 'configured actions no rule can permit, and rules that can never match a configured action or agent (local); exit 1 when anything is found',
  usage: 'policy lint --config FILE [--policies DIR] [--json]',
  options: { config: { type: 'string' }, policies: { type: 'string' }, ...JSON_FLAG },
  positionals: [0, 0],
  async run(values, _pos, io) {
    const file = str(values, 'config');
    if (!file) throw new UsageError('policy lint needs --config FILE');
    const config = loadConfig(file);
    const dir = str(values, 'policies') ?? config.policies;
    // Loaded as the daemon loads it: a policy asking an unconfigured approval group is an error here too.
    const engine = await loadPolicies({ ...config, policies: dir });
    const findings = lintPolicySet(engine.policySet, { actions: Object.keys(config.actions), agents: Object.values(config.agents) });
    emit(io, values.json === true, { ok: findings.length === 0, policy_version: engine.version, findings }, () =>
      [
        ...findings.map((f) => (f.kind === 'rule_unmatched' ? `${f.file}:${f.line}: ${f.message}` : `action ${f.action}: ${f.message}`)),
        findings.length === 0
          ? `${dir}: ok (${engine.policySet.policies.length} policies cover all ${Object.keys(config.actions).length} configured actions; every rule can match)`
          : `${findings.length} finding${findings.length === 1 ? '' : 's'}`,
      ].join('\n'),
    );
    return findings.length === 0 ? EXIT.ok : EXIT.failure;
  },
});

export const policyCommands: readonly Command[] = Object.freeze([policyExplainCommand, policyReloadCommand, policyReplayCommand, policyTestCommand, policyLintCommand]);
