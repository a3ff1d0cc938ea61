import { parse } from 'yaml';
import { BrokerError } from '../lib/errors';
import { isTier, tierFor } from '../trust';
import type { DecisionContext } from './decision-request';
import { DECISION_KINDS, type DecisionKind, type Explanation } from './explanation';
import { obligationLabels } from './obligations';
import type { PolicyEngine } from './policy-engine';

/** One table-driven case of `policy test`: a request and what it must get. */
export interface PolicyTestCase {
  readonly file: string;
  readonly name: string;
  readonly request: {
    readonly agent: string;
    readonly groups: readonly string[];
    readonly action: string;
    readonly resource: string;
    readonly context: Readonly<Record<string, unknown>>;
  };
  readonly expect: { readonly decision: DecisionKind; readonly obligations?: readonly string[] };
}

export interface PolicyTestResult {
  readonly file: string;
  readonly name: string;
  readonly ok: boolean;
  readonly expected: PolicyTestCase['expect'];
  readonly got: { readonly decision: DecisionKind; readonly obligations: readonly string[] };
  readonly explanation?: Explanation;
  /** The request could not be decided (e.g. a fractional amount): the case fails. */
  readonly error?: string;
}

const DECISIONS: readonly string[] = DECISION_KINDS;
const CASE_KEYS: readonly string[] = ['name', 'request', 'expect'];
const REQUEST_KEYS: readonly string[] = ['agent', 'groups', 'action', 'resource', 'context'];
const EXPECT_KEYS: readonly string[] = ['decision', 'obligations'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Parses a test file: `cases:` (or a bare list) of `{ name, request: { agent,
 * groups, action, resource, context }, expect: { decision, obligations } }`.
 * Unknown keys are errors; every problem is reported at once with its path.
 * Context defaults: trust 600, tier from the trust, trust_fresh false, params {}.
 */
export function parsePolicyTests(file: string, text: string): PolicyTestCase[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new BrokerError('invalid_argument', `${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const list = isObject(doc) ? doc['cases'] : doc;
  const problems: string[] = [];
  const at = (path: string, expected: string) => problems.push(`${file}: ${path}: expected ${expected}`);
  if (isObject(doc)) for (const k of Object.keys(doc)) if (k !== 'cases') at(k, 'only "cases" at the top level');
  if (!Array.isArray(list) || list.length === 0) {
    at('cases', 'a non-empty list of cases');
    throw new BrokerError('invalid_argument', problems.join('\n'));
  }
  const out: PolicyTestCase[] = [];
  list.forEach((c: unknown, i) => {
    const p = `cases[${i}]`;
    if (!isObject(c)) return void at(p, 'a map with name, request and expect');
    for (const k of Object.keys(c)) if (!CASE_KEYS.includes(k)) at(`${p}.${k}`, `one of ${CASE_KEYS.join(', ')}`);
    const name = typeof c['name'] === 'string' && c['name'] ? c['name'] : (at(`${p}.name`, 'a non-empty string'), `case ${i}`);
    const r = c['request'];
    const e = c['expect'];
    if (!isObject(r)) return void at(`${p}.request`, 'a map with agent, groups, action, resource, context');
    if (!isObject(e)) return void at(`${p}.expect`, 'a map with decision (and obligations)');
    for (const k of Object.keys(r)) if (!REQUEST_KEYS.includes(k)) at(`${p}.request.${k}`, `one of ${REQUEST_KEYS.join(', ')}`);
    for (const k of Object.keys(e)) if (!EXPECT_KEYS.includes(k)) at(`${p}.expect.${k}`, `one of ${EXPECT_KEYS.join(', ')}`);
    if (typeof r['agent'] !== 'string' || !r['agent']) at(`${p}.request.agent`, 'the configured agent name');
    if (typeof r['action'] !== 'string' || !r['action']) at(`${p}.request.action`, 'an action name');
    if (r['groups'] !== undefined && !isStringList(r['groups'])) at(`${p}.request.groups`, 'a list of group names');
    if (r['resource'] !== undefined && typeof r['resource'] !== 'string') at(`${p}.request.resource`, 'a string (default: the action name)');
    if (r['context'] !== undefined && !isObject(r['context'])) at(`${p}.request.context`, 'a map');
    const ctx = isObject(r['context']) ? r['context'] : {};
    const trust = ctx['trust'] ?? 600;
    if (typeof trust !== 'number' || !Number.isSafeInteger(trust) || trust < 0 || trust > 1000) at(`${p}.request.context.trust`, 'an integer from 0 to 1000');
    if (ctx['tier'] !== undefined && !isTier(ctx['tier'])) at(`${p}.request.context.tier`, 'trusted, standard, restricted or quarantined');
    if (typeof e['decision'] !== 'string' || !DECISIONS.includes(e['decision'])) at(`${p}.expect.decision`, DECISIONS.join(', '));
    if (e['obligations'] !== undefined && !isStringList(e['obligations'])) at(`${p}.expect.obligations`, 'a list such as [approval:finance, max_ttl:300s, max_uses:1]');
    if (problems.length) return;
    const t = trust as number;
    out.push({
      file,
      name,
      request: {
        agent: r['agent'] as string,
        groups: (r['groups'] as string[] | undefined) ?? [],
        action: r['action'] as string,
        resource: (r['resource'] as string | undefined) ?? (r['action'] as string),
        context: { params: {}, trust_fresh: false, ...ctx, trust: t, tier: ctx['tier'] ?? tierFor(t) },
      },
      expect: { decision: e['decision'] as DecisionKind, ...(e['obligations'] !== undefined ? { obligations: e['obligations'] as string[] } : {}) },
    });
  });
  if (problems.length) throw new BrokerError('invalid_argument', problems.join('\n'));
  return out;
}

/** Decides one case; a mismatch in the decision, or in the obligations when the case names them, fails it. */
export function runPolicyTest(engine: PolicyEngine, c: PolicyTestCase): PolicyTestResult {
  let d;
  try {
    d = engine.decide({
      agent: { name: c.request.agent, groups: c.request.groups },
      action: c.request.action,
      resource: c.request.resource,
      context: c.request.context as DecisionContext,
    });
  } catch (err) {
    return { file: c.file, name: c.name, ok: false, expected: c.expect, got: { decision: 'deny', obligations: [] }, error: (err as Error).message };
  }
  const got = { decision: d.decision, obligations: obligationLabels(d.obligations) };
  const sameObligations = c.expect.obligations === undefined || [...c.expect.obligations].sort().join('\n') === [...got.obligations].sort().join('\n');
  return { file: c.file, name: c.name, ok: got.decision === c.expect.decision && sameObligations, expected: c.expect, got, explanation: d.explanation };
}
