/*
 * A `decision` entry as its readers see it: ListDecisions, `policy replay`
 * and the report. The broker writes it (src/broker/decision-step.ts
 * `decisionDraft`, a break-glass grant, the denial folder's closing entry);
 * this is the one place that reads its layout back.
 */

/** The entry type, as in the stored `type` column. */
export const DECISION_TYPE = 'decision';

/** Canonical JSON (RFC 8785) has no whitespace, so a decision entry always holds these bytes. */
const DECISION_MARK = Buffer.from('"type":"decision"');

export interface DecisionEntry {
  /** The entry's position in the log. */
  readonly index: number;
  readonly type: typeof DECISION_TYPE;
  /** RFC 3339. A string field the entry lacks reads as '', and missing policies as []. */
  readonly time: string;
  readonly agent: string;
  readonly action: string;
  readonly resource: string;
  readonly decision: {
    /** "allow", "deny" or "allow_with_obligations". */
    readonly effect: string;
    /** The ids of the policies that decided it. */
    readonly policies: readonly string[];
    readonly policy_version: string;
    /** The approval groups its permit asked for. */
    readonly approvals?: readonly string[];
    /** The approval it redeemed. */
    readonly approval_id?: string;
    /** Present when a break-glass override granted it, not policy. */
    readonly breakglass?: unknown;
  };
  /** The agent's trust at decision time. */
  readonly trust?: { readonly score?: number; readonly tier?: string };
  /** The explanation as recorded (src/policy's Explanation, bounded): denials and pending approvals carry one. */
  readonly explanation?: unknown;
  /** What the decision saw, for `policy replay` (src/broker/recorded-inputs.ts). */
  readonly inputs?: unknown;
  /** A folded denial window's closing entry (src/broker/denial-folder.ts): this many more denials after first_index. */
  readonly folded_count?: number;
  readonly folded_since?: string;
  readonly folded_until?: string;
  readonly first_index?: number;
  /** The window folded every denial of an agent over its evidence budget, not identical ones. */
  readonly flood?: boolean;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const optNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const optStrings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

/**
 * The decision entry in `entry`'s bytes, or undefined when it is another type.
 * Most entries are not decisions: they are recognised on the raw bytes and
 * never parsed. A field of the wrong type reads as absent. Throws when the
 * bytes are not JSON (the start-up integrity check refuses such a log).
 */
export function parseDecisionEntry(entry: { readonly index: number; readonly bytes: Buffer }): DecisionEntry | undefined {
  if (!entry.bytes.includes(DECISION_MARK)) return undefined;
  const e = JSON.parse(entry.bytes.toString('utf8')) as unknown;
  if (!isObject(e) || e['type'] !== DECISION_TYPE) return undefined;
  const d = isObject(e['decision']) ? e['decision'] : {};
  const t = e['trust'];
  return {
    index: entry.index,
    type: DECISION_TYPE,
    time: optString(e['time']) ?? '',
    agent: optString(e['agent']) ?? '',
    action: optString(e['action']) ?? '',
    resource: optString(e['resource']) ?? '',
    decision: {
      effect: optString(d['effect']) ?? '',
      policies: optStrings(d['policies']) ?? [],
      policy_version: optString(d['policy_version']) ?? '',
      approvals: optStrings(d['approvals']),
      approval_id: optString(d['approval_id']),
      breakglass: d['breakglass'],
    },
    trust: isObject(t) ? { score: optNumber(t['score']), tier: optString(t['tier']) } : undefined,
    explanation: e['explanation'],
    inputs: e['inputs'],
    folded_count: optNumber(e['folded_count']),
    folded_since: optString(e['folded_since']),
    folded_until: optString(e['folded_until']),
    first_index: optNumber(e['first_index']),
    flood: typeof e['flood'] === 'boolean' ? e['flood'] : undefined,
  };
}
