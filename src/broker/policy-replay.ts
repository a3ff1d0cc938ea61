import type { BrokerConfig } from '../config/config-types';
import type { BundleEntry } from '../evidence/bundle';
import { parseDecisionEntry, type DecisionEntry } from '../evidence/decision-entry';
import type { DecisionKind, Explanation, PolicyEngine } from '../policy';
import type { Tier } from '../trust';
import { DecisionStep, type DecisionInput } from './decision-step';
import type { OmittedInputs, RecordedInputs } from './recorded-inputs';

/** The read side `policy replay` needs: the log's entries in order, and one entry by index (a folded denial's first). */
export interface ReplaySource {
  size(): Promise<number>;
  entries(start: number, end: number): AsyncIterable<BundleEntry>;
  getEntry(index: number): Promise<{ bytes: Buffer } | undefined>;
}

export interface ReplayOptions {
  config: Pick<BrokerConfig, 'agents' | 'actions'>;
  /** The candidate policy set. */
  candidate: PolicyEngine;
  /** The set the config serves, for the recorded side's explanation when the entry carries none. */
  baseline?: PolicyEngine;
  source: ReplaySource;
  /** Window [since, until) in ms since the epoch, on the entries' `time`. */
  since: number;
  until?: number;
  /** Called for each decision that flips, in log order (the caller streams it out). */
  onFlip: (flip: ReplayFlip) => void | Promise<void>;
}

export interface ReplayFlip {
  index: number;
  time: string;
  agent: string;
  action: string;
  resource: string;
  /** Decisions this entry stands for: 1, or 1 + folded_count for a folded denial's closing entry. */
  count: number;
  before: { decision: string; policy_version: string; explanation: Explanation | { summary: string } };
  after: { decision: DecisionKind; policy_version: string; explanation: Explanation };
}

export interface ReplaySummary {
  /** Decisions in the window (folded denials counted one by one). */
  decisions: number;
  replayed: number;
  flipped: number;
  /** e.g. { "allow->deny": 3 } */
  by_change: Record<string, number>;
  skipped: { no_inputs: number; inputs_over_cap: number; unknown_agent_or_action: number; flood: number; break_glass: number };
  candidate_version: string;
}

/** The inputs a decision entry recorded, as recordInputs made them (src/evidence reads them as opaque). */
const inputsOf = (e: DecisionEntry | undefined): RecordedInputs | OmittedInputs | undefined => e?.inputs as RecordedInputs | OmittedInputs | undefined;

/**
 * Re-decides every `decision` entry in the window under a candidate policy
 * set, with the inputs the entry recorded (declared context, params, trust
 * and tier, trust_fresh, budget used), and reports each one whose decision
 * kind (allow / allow_with_obligations / deny) changes. It streams: one entry
 * in memory at a time, flips handed to `onFlip` as found. Entries without
 * inputs (written before they were recorded, or over the cap) are skipped
 * and counted, as are the denials a flood window folded (their inputs differ).
 */
export async function replayDecisions(o: ReplayOptions): Promise<ReplaySummary> {
  const summary: ReplaySummary = {
    decisions: 0,
    replayed: 0,
    flipped: 0,
    by_change: {},
    skipped: { no_inputs: 0, inputs_over_cap: 0, unknown_agent_or_action: 0, flood: 0, break_glass: 0 },
    candidate_version: o.candidate.version,
  };
  // What the entry being replayed saw; the decision step reads it through these.
  let seen: { trust: { score: number; tier: Tier; fresh: boolean }; budgetUsed: number; at: number } = { trust: { score: 0, tier: 'quarantined', fresh: false }, budgetUsed: 0, at: 0 };
  const stepFor = (engine: PolicyEngine) =>
    new DecisionStep({
      policy: () => engine,
      trust: { current: async () => seen.trust },
      store: { budgetUsed: async () => seen.budgetUsed },
      clock: { now: () => seen.at },
    });
  const candidate = stepFor(o.candidate);
  const baseline = o.baseline ? stepFor(o.baseline) : undefined;
  const size = await o.source.size();
  for await (const raw of o.source.entries(0, size)) {
    const e = parseDecisionEntry(raw);
    if (!e) continue;
    const at = Date.parse(e.time);
    if (at < o.since || (o.until !== undefined && at >= o.until)) continue;
    const folded = e.folded_count !== undefined;
    const count = folded ? e.folded_count! : 1;
    summary.decisions += count;
    // Granted under a break-glass override, not by policy: no candidate policy flips it.
    if (e.decision.breakglass !== undefined) {
      summary.skipped.break_glass += count;
      continue;
    }
    let inputs = inputsOf(e);
    if (folded) {
      if (e.flood) {
        summary.skipped.flood += count;
        continue;
      }
      // A folded window's closing entry: the inputs are on its first entry.
      const first = e.first_index !== undefined ? await o.source.getEntry(e.first_index) : undefined;
      inputs = inputsOf(first && parseDecisionEntry({ index: e.first_index!, bytes: first.bytes }));
    }
    if (!inputs) {
      summary.skipped.no_inputs += count;
      continue;
    }
    if ('omitted' in inputs) {
      summary.skipped.inputs_over_cap += count;
      continue;
    }
    const agent = Object.hasOwn(o.config.agents, e.agent) ? o.config.agents[e.agent] : undefined;
    const action = Object.hasOwn(o.config.actions, e.action) ? o.config.actions[e.action] : undefined;
    if (!agent || !action) {
      summary.skipped.unknown_agent_or_action += count;
      continue;
    }
    seen = { trust: { score: e.trust?.score ?? 0, tier: (e.trust?.tier as Tier | undefined) ?? 'quarantined', fresh: inputs.trust_fresh }, budgetUsed: inputs.budget_used ?? 0, at };
    const input: DecisionInput = {
      call: 'explain',
      agent,
      action,
      resource: e.resource,
      context: inputs.context,
      params: inputs.params,
      purpose: '',
      ...(inputs.grant ? { grant: inputs.grant === 'one-shot' ? 'one-shot' : { ttlSeconds: inputs.grant.ttl_seconds, maxUses: inputs.grant.max_uses } } : {}),
    };
    const after = await decideOrDeny(candidate, input);
    summary.replayed += count;
    if (after.effect === e.decision.effect) continue;
    summary.flipped += count;
    const change = `${e.decision.effect}->${after.effect}`;
    summary.by_change[change] = (summary.by_change[change] ?? 0) + count;
    const before = (e.explanation as Explanation | undefined) ?? (baseline ? (await decideOrDeny(baseline, input)).explanation : { summary: `${e.decision.effect} (recorded; no explanation in the entry)` });
    await o.onFlip({
      index: e.index,
      time: e.time,
      agent: e.agent,
      action: e.action,
      resource: e.resource,
      count,
      before: { decision: e.decision.effect, policy_version: e.decision.policy_version, explanation: before },
      after: { decision: after.effect, policy_version: o.candidate.version, explanation: after.explanation },
    });
  }
  return summary;
}

/** The effect a decision entry would record; an error while deciding is a denial. */
async function decideOrDeny(step: DecisionStep, input: DecisionInput): Promise<{ effect: DecisionKind; explanation: Explanation }> {
  try {
    const d = await step.decide(input);
    return { effect: (d.draft['decision'] as { effect: DecisionKind }).effect, explanation: d.explanation };
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    return {
      effect: 'deny',
      explanation: { decision: 'deny', summary: `could not be decided: ${message}`, deciding_policies: [], candidates: [], hint: 'Fix the inputs or the policy named above.', trust: { score: 0, tier: 'quarantined' } },
    };
  }
}
