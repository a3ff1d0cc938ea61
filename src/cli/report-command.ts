import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { loadPolicies } from '../app';
import { loadConfig } from '../config/load';
import { openSqliteLedgerReadOnly } from '../evidence/ledger/sqlite-ledger-storage';
import { failedPrecondition } from '../lib/errors';
import { renderHtml } from '../report/report-html';
import { buildReport, type Quantiles, type Report } from '../report/report-measures';
import { EXIT, UsageError } from './cli-io';
import { JSON_FLAG, str, type Command } from './command';
import { parseWhen } from './policy-commands';
import { safeJson, shown } from './terminal-text';

const secs = (q: Quantiles): string => (q.count === 0 ? 'n/a' : `p50 ${q.p50} s, p90 ${q.p90} s`);
const pct = (x: number | null): string => (x === null ? 'n/a (no denials)' : `${(x * 100).toFixed(1)} %`);

function humanReport(r: Report): string {
  const c = r.policy_coverage;
  const a = r.manual_override.approvals;
  const b = r.manual_override.breakglass;
  const x = r.explainability;
  const lines = [
    `report ${r.window.since} to ${r.window.until} (${r.window.entries_read} entries read, policy ${r.policy_version.slice(0, 12)})`,
    '',
    `1. policy coverage: ${c.actions.length - c.actions_unpermitted} of ${c.actions.length} configured actions can be permitted; ${c.decisions} decisions (${Object.entries(c.by_effect).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`,
    ...c.actions.filter((row) => !row.permitted).map((row) => `   ${row.finding}`),
    c.all_decided
      ? `   every grant (${c.leases_issued}) and use (${c.invokes}) passed the decision point`
      : `   NOT PROVEN: grants or uses without a decision before them at log indexes ${c.unproven.join(', ')}`,
    `2. scope grant reduction: ${r.scope_reduction.over_granted} over-granted agent(s)`,
    ...r.scope_reduction.agents.flatMap((g) => [
      `   ${g.agent}: ${g.uses_spent} of ${g.uses_granted} uses granted spent (${g.leases} leases); permitted ${g.actions_permitted.join(', ') || 'nothing'}; invoked ${g.actions_invoked.join(', ') || 'nothing'}${g.over_granted ? ' (over-granted)' : ''}`,
      ...g.weeks.map((w) => `     week of ${w.week}: ${w.uses_spent}/${w.uses_granted} uses, ${w.leases} leases, invoked ${w.actions_invoked.join(', ') || 'nothing'}`),
      ...(g.suggested_permit ? ['     suggested permit:', ...g.suggested_permit.split('\n').map((l) => `       ${l}`)] : []),
    ]),
    `3. trust-aware gating: ${r.trust_gating.drops} trust drop(s), ${r.trust_gating.leases_revoked} lease(s) revoked; signal to revocation ${secs(r.trust_gating.time_to_revoke_seconds)}`,
    ...r.trust_gating.rows.map((d) => `   #${d.index} ${d.time} ${d.agent} ${d.from.score} ${d.from.tier} -> ${d.to.score} ${d.to.tier} by ${shown(d.by)}: ${d.leases_revoked} revoked`),
    `4. manual override clarity: approvals ${a.requested} requested, ${a.approved} approved, ${a.rejected} rejected, ${a.expired} expired; time to decide ${secs(a.time_to_decide_seconds)}`,
    `   break-glass: ${b.overrides} override(s), ${b.uses} lease(s) granted under them, ${b.reviewed} reviewed, ${b.unreviewed} not reviewed`,
    ...b.rows.map((o) => `   ${o.id} ${o.agent} ${o.action}: ${o.state}, asked by ${shown(o.requested_by)} (${shown(o.reason)}), confirmed by ${shown(o.confirmed_by || '-')}, ${o.uses} use(s), ${o.reviewed ? `reviewed by ${shown(o.reviewed_by ?? '?')}` : 'NOT REVIEWED'}`),
    `5. denied-action explainability: ${x.explained} of ${x.denials} denials explained (${pct(x.share)}; target 100 %)`,
    ...x.top_reasons.map((q) => `   ${q.count} x ${shown(q.reason)}`),
  ];
  return lines.join('\n');
}

export const reportCommand: Command = Object.freeze<Command>({
  path: ['report'],
  summary: "the seed's five measures over a window of the evidence log: policy coverage, scope grant reduction, trust-aware gating, manual override clarity, denied-action explainability (local; daemon up or down)",
  usage: 'report --config FILE [--since 30d] [--until T] [--json] [--html FILE]',
  options: { config: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, html: { type: 'string' }, ...JSON_FLAG },
  positionals: [0, 0],
  async run(values, _pos, io) {
    const file = str(values, 'config');
    if (!file) throw new UsageError('report needs --config FILE');
    const now = Date.now();
    const since = parseWhen('since', str(values, 'since') ?? '30d', now);
    const untilText = str(values, 'until');
    const until = untilText !== undefined ? parseWhen('until', untilText, now) : now;
    const config = loadConfig(file);
    if (config.state.kind !== 'sqlite') throw failedPrecondition('report reads the evidence log from the SQLite state database; this config keeps its state in PostgreSQL');
    const policy = await loadPolicies(config);
    const db = openSqliteLedgerReadOnly(config.state.path);
    let report: Report;
    try {
      report = await buildReport({
        config,
        policy,
        source: { size: () => db.storage.size(), entries: (s, e) => db.storage.entries(s, e) },
        since,
        until,
        onProgress: (read, total) => void io.stderr.write(`report: ${read} of ${total} entries read\n`),
      });
    } finally {
      db.close();
    }
    const html = str(values, 'html');
    if (html !== undefined) {
      const out = path.resolve(io.cwd, html);
      await writeFile(out, renderHtml(report), { mode: 0o644 });
      io.stderr.write(`report: wrote ${out}\n`);
    }
    io.stdout.write((values.json === true ? safeJson(report) : humanReport(report)) + '\n');
    return EXIT.ok;
  },
});
