import type { Tier } from '../trust/trust-tiers';
import type { PolicyJson } from './cedar-api';
import { Obligations, obligationLabels } from './obligations';
import type { Expr } from './cedar-api';
import { ConditionCheck, contextAttributes, entityText, observedValues, Remedy, remedyOf } from './policy-conditions';
import type { PolicyInfo } from './policy-set';

export type DecisionKind = 'allow' | 'deny' | 'allow_with_obligations';
/** Every DecisionKind: what a decision entry's `effect` may be. */
export const DECISION_KINDS: readonly DecisionKind[] = Object.freeze(['allow', 'deny', 'allow_with_obligations'] as const);

/** The explanation every decision carries (DESIGN, API and invariant 7). snake_case: it is sent as JSON. */
export interface Explanation {
  readonly decision: DecisionKind;
  /** One line on what happened, e.g. "no policy permits billing.refund on stripe for support-bot". */
  readonly summary: string;
  readonly deciding_policies: readonly { readonly id: string; readonly reason: string }[];
  /** The permits whose action scope covers this action. */
  readonly candidates: readonly Candidate[];
  /** The next step, in one sentence. */
  readonly hint: string;
  readonly trust: { readonly score: number; readonly tier: Tier };
  /** Set when the grant stands only under a break-glass override (src/breakglass): who asked, who confirmed, until when. */
  readonly override?: { readonly id: string; readonly requested_by: string; readonly confirmed_by: string; readonly until: string; readonly reason: string };
  /** A denial by the action's budget (or a policy reading it): what was used, the limit, the window. */
  readonly budget?: BudgetInfo;
  /** The approval the request needs, and the votes still missing per group. */
  readonly approval?: ApprovalInfo;
}

export interface BudgetInfo {
  readonly field: string;
  readonly used: number;
  readonly limit?: number;
  /** The window, e.g. "24h". */
  readonly per: string;
  /** What this request would hold (amount x uses). */
  readonly requested: number;
}

export interface ApprovalInfo {
  readonly groups: readonly string[];
  /** The permit that carries the obligation. */
  readonly rule: string;
  readonly missing: readonly { readonly group: string; readonly votes: number }[];
  /** The approval opened (PENDING_APPROVAL) for this request. */
  readonly approval_id?: string;
}

export interface Candidate {
  readonly id: string;
  readonly requires: string;
  readonly failed_conditions: readonly string[];
  readonly obligations: readonly string[];
}

/** A permit prepared for explaining: its standalone checks and what it requires. */
export interface CandidatePlan {
  readonly policy: PolicyInfo;
  readonly checks: readonly ConditionCheck[];
  readonly requires: string;
}

export interface CheckOutcome {
  /** Keys of checks that held. */
  readonly satisfied: ReadonlySet<string>;
  /** Keys of checks that raised an error, with Cedar's message. */
  readonly errored: ReadonlyMap<string, string>;
}

/** Whether a permit's action scope could cover `action` (there are no action groups). */
export function actionInScope(policy: PolicyJson, action: string): boolean {
  const c = policy.action;
  if (c.op === 'All') return true;
  const uids = 'entities' in c ? c.entities : 'entity' in c ? [c.entity] : [];
  return uids.some((u) => {
    const { type, id } = '__entity' in u ? u.__entity : u;
    return type === 'Action' && id === action;
  });
}

export function derivedRequires(checks: readonly ConditionCheck[]): string {
  return checks.length === 0 ? 'nothing: it permits every request in its scope' : checks.map((c) => c.text).join(' and ');
}

/** What the request looked like to Cedar: the values a failed check names. */
export interface Seen {
  readonly agent: string;
  readonly groups: readonly string[];
  readonly resource: string;
  readonly context: Readonly<Record<string, unknown>>;
}

export interface EvaluatedCandidate {
  readonly plan: CandidatePlan;
  readonly failed: readonly ConditionCheck[];
  readonly failedText: readonly string[];
  readonly scopeFailed: boolean;
  /** Keys of failed checks that could not be evaluated (e.g. a field was not given). */
  readonly errored?: ReadonlySet<string>;
}

/**
 * Names each failed check. Conjuncts of one clause short-circuit in Cedar, so
 * an error in a conjunct after one that already failed is usually guarded by
 * it (`context has x && context.x > 1`) and is not reported.
 */
export function evaluateCandidate(plan: CandidatePlan, outcome: CheckOutcome, seen?: Seen): EvaluatedCandidate {
  const failed: ConditionCheck[] = [];
  const failedText: string[] = [];
  const failedClauses = new Set<number>();
  const errored = new Set<string>();
  for (const check of plan.checks) {
    if (outcome.satisfied.has(check.key)) continue;
    const error = outcome.errored.get(check.key);
    if (error !== undefined) {
      if (check.clause >= 0 && failedClauses.has(check.clause)) continue;
      const values = seen ? valuesText(check, seen) : '';
      failedText.push(`${check.text} (could not be evaluated: ${error}${values ? `; ${values}` : ''})`);
      errored.add(check.key);
    } else {
      failedText.push(seen ? failedWithValues(check, seen) : check.failedText);
    }
    failed.push(check);
    failedClauses.add(check.clause);
  }
  return { plan, failed, failedText, scopeFailed: failed.some((c) => c.clause < 0), ...(errored.size > 0 ? { errored } : {}) };
}

export function toCandidate(e: EvaluatedCandidate): Candidate {
  return {
    id: e.plan.policy.id,
    requires: e.plan.requires,
    failed_conditions: e.failedText,
    obligations: obligationLabels(e.plan.policy.obligations),
  };
}

interface HintInput {
  readonly agent: string;
  readonly action: string;
  readonly resource: string;
  /** The agent's owner, whom a request no rule covers is referred to. */
  readonly owner?: string;
  readonly tier: Tier;
}

/** `context.amount <= 5000 was false (context.amount = 50000)`: the check, how it came out, and what it saw. */
function failedWithValues(check: ConditionCheck, seen: Seen): string {
  const values = valuesText(check, seen);
  if (check.clause < 0 || check.condition === undefined) return values ? `${check.failedText} (${values})` : check.failedText;
  const outcome = check.kind === 'unless' ? 'was true' : 'was false';
  return `${check.condition} ${outcome}${values ? ` (${values})` : ''}`;
}

function valuesText(check: ConditionCheck, seen: Seen): string {
  if (check.clause < 0) {
    // A scope check: principal or resource.
    if (check.text.startsWith('principal')) {
      const groups = seen.groups.map((g) => entityText({ type: 'Group', id: g }));
      return `principal = ${entityText({ type: 'Agent', id: seen.agent })}${groups.length ? `, in ${groups.join(', ')}` : ', in no group'}`;
    }
    return `resource = ${entityText({ type: 'Resource', id: seen.resource })}`;
  }
  return observedValues(check.reads ?? [], seen.context).join(', ');
}

/** A remedy as the start of a sentence's clause: "narrow amount to at most 5000". */
export function remedyText(r: Remedy, tier: Tier): string {
  switch (r.kind) {
    case 'at_most':
      return `narrow ${r.field} to at most ${r.value}`;
    case 'at_least':
      return `raise ${r.field} to at least ${r.value}`;
    case 'equal':
      return `set ${r.field} to ${JSON.stringify(r.value)}`;
    case 'trust':
      return `wait for trust to reach ${r.score}`;
    case 'tier': {
      // The nearest tier above the agent's own that would do (tiers come lowest first).
      const order = ['quarantined', 'restricted', 'standard', 'trusted'];
      const target = r.tiers.find((t) => order.indexOf(t) > order.indexOf(tier)) ?? r.tiers[0];
      return `wait for trust to reach the ${target} tier`;
    }
  }
}

function approvalText(groups: readonly string[]): string {
  return `ask ${groups.length === 1 ? 'group' : 'groups'} ${joinAnd(groups)} for approval`;
}

export function allowHint(chosen: PolicyInfo, o: Obligations): string {
  if (o.approvals.length > 0) return `Ask for approval from ${joinAnd(o.approvals)} (required by ${chosen.id}).`;
  const labels = obligationLabels(o);
  if (labels.length > 0) return `Proceed within the limits of ${chosen.id}: ${labels.join(', ')}.`;
  return `Proceed: ${chosen.id} permits this request.`;
}

/**
 * For a denial by forbids: what would make a forbid's condition false, when
 * it compares one field with a literal (`context.tier == "quarantined"` →
 * wait for the restricted tier); otherwise which forbid and why.
 */
export function forbidHint(forbids: readonly PolicyInfo[], tier: Tier = 'quarantined'): string {
  const what = forbids.map((f) => `${f.id} (${trimPeriod(f.reason)})`).join('; ');
  const remedies = forbids.map((f) => forbidRemedy(f.json.conditions));
  if (remedies.every((r): r is Remedy => r !== undefined)) {
    const texts = [...new Set(remedies.map((r) => remedyText(r, tier)))];
    return `${capitalise(texts.join(' and '))}: forbidden by ${what}.`;
  }
  const refs = new Set<string>();
  for (const f of forbids) contextAttributes(f.json.conditions, refs);
  if (refs.size > 0 && [...refs].every((r) => r === 'trust' || r === 'tier' || r === 'trust_fresh')) return `Wait for trust to rise: forbidden by ${what}.`;
  if (refs.size > 0) return `Narrow the request: forbidden by ${what}.`;
  return `Forbidden by ${what}; ask an operator if this is wrong.`;
}

/** A forbid with one `when` clause of one comparison: the negated comparison is what lifts it. */
function forbidRemedy(conditions: PolicyInfo['json']['conditions']): Remedy | undefined {
  if (conditions.length !== 1) return undefined;
  const c = conditions[0]!;
  return remedyOf(c.body as Expr, c.kind === 'when');
}

/**
 * For a request no permit matched: point at the nearest permits (scope met,
 * fewest failed conditions) and say what would meet each, from its failed
 * comparisons: narrow a field to a bound, wait for a trust score or tier, ask
 * a group for approval. No permit whose scope the agent meets: ask its owner.
 */
export function noPermitHint(req: HintInput, evaluated: readonly EvaluatedCandidate[]): string {
  const inScope = evaluated.filter((e) => !e.scopeFailed && e.failed.length > 0);
  if (inScope.length === 0) return `No rule lets ${req.agent} do ${req.action} on ${req.resource}; ask ${req.owner ?? 'an operator'}.`;
  const fewest = Math.min(...inScope.map((e) => e.failed.length));
  const all = inScope.filter((e) => e.failed.length === fewest);
  // One sentence: the first few nearest permits; the candidates list the rest.
  const nearest = all.slice(0, MAX_HINT_OPTIONS);
  const options = nearest.map((e) => {
    const steps = e.failed.map((c) => {
      if (!c.remedy) return c.kind === 'unless' && c.condition !== undefined ? `make ${c.condition} false` : `meet ${c.text}`;
      // A field the request did not give: say to give it, within the bound.
      if (e.errored?.has(c.key) && 'field' in c.remedy) return `give ${c.remedy.field} (${remedyText(c.remedy, req.tier).replace(/^\w+ \S+ to /, '')})`;
      return remedyText(c.remedy, req.tier);
    });
    const approvals = e.plan.policy.obligations.approvals;
    if (approvals.length > 0) steps.push(approvalText(approvals));
    return `${joinAnd(steps)} (${e.plan.policy.id})`;
  });
  const more = all.length - nearest.length;
  return `${capitalise(options.join(', or '))}${more > 0 ? ` (or ${more} more: see the candidates)` : ''}.`;
}

const MAX_HINT_OPTIONS = 3;

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function joinAnd(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function trimPeriod(s: string): string {
  return s.trim().replace(/\.+$/, '');
}

/** What an agent in the `quarantined` tier is told of a decision: the hint, nothing else (invariant 7). */
export interface HintOnly {
  readonly decision: DecisionKind;
  readonly hint: string;
  readonly hint_only: true;
}

/**
 * An explanation as an agent may see it: whole, or the hint only when the
 * decision's trust put the agent in `quarantined`, so a compromised agent
 * cannot map the policy. Operators (Explain, evidence) get the whole thing.
 */
export function forAgent(e: Explanation): Explanation | HintOnly {
  return e.trust.tier === 'quarantined' ? { decision: e.decision, hint: e.hint, hint_only: true } : e;
}

/** grpc-js refuses metadata over 8 KiB in all; the explanation trailer stays under half of that. */
export const TRAILER_MAX_BYTES = 4000;
/** What the `decision` evidence entry holds of an explanation, at most. */
export const EVIDENCE_MAX_BYTES = 16_384;
const MAX_FIELD = 300;

/**
 * JSON for a size-bounded place (the `secretbroker-explanation` trailer, an
 * evidence entry): ASCII only (grpc-js refuses other characters in metadata,
 * and then bytes = characters), at most `maxBytes`, and still valid JSON.
 * Too long, it is cut in order (long texts, then candidates from the end, then
 * everything but the decision and hint) and `truncated` says what was left out.
 */
export function boundedExplanationJson(e: Explanation | HintOnly, maxBytes: number): string {
  const whole = asciiJson(e);
  if (whole.length <= maxBytes) return whole;
  const cut = (s: string, n = MAX_FIELD): string => (s.length > n ? `${s.slice(0, n)}…` : s);
  const marker = (what: string): string => `${what} left out to fit ${maxBytes} bytes; Explain shows the whole explanation`;
  if (!('hint_only' in e)) {
    const short: Explanation = {
      ...e,
      summary: cut(e.summary),
      deciding_policies: e.deciding_policies.map((d) => ({ id: cut(d.id, 128), reason: cut(d.reason) })),
      candidates: e.candidates.map((c) => ({ id: cut(c.id, 128), requires: cut(c.requires), failed_conditions: c.failed_conditions.map((f) => cut(f)), obligations: c.obligations.map((o) => cut(o, 128)) })),
      hint: cut(e.hint, 1000),
    };
    for (let kept = short.candidates.length; kept >= 0; kept--) {
      const left = e.candidates.length - kept;
      const what = left > 0 ? `long texts and ${left} of ${e.candidates.length} candidates` : 'long texts';
      const text = asciiJson({ ...short, candidates: short.candidates.slice(0, kept), truncated: marker(what) });
      if (text.length <= maxBytes) return text;
    }
  }
  const last = asciiJson({ decision: e.decision, hint: cut(e.hint, Math.max(0, Math.floor(maxBytes / 8))), ...('hint_only' in e ? { hint_only: true } : {}), truncated: marker('everything but the decision and hint') });
  return last.length <= maxBytes ? last : asciiJson({ decision: e.decision, truncated: 'too long' });
}

/** JSON with every non-ASCII character escaped (`\uXXXX`): still the same JSON value. */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The `secretbroker-explanation` trailer of an agent-facing denial: as the agent may see it, bounded. */
export function explanationTrailer(e: Explanation): string {
  return boundedExplanationJson(forAgent(e), TRAILER_MAX_BYTES);
}

/** A denial's gRPC status detail: the hint (kept to one short line; the trailer has the rest). */
export function denialDetail(e: Explanation): string {
  const text = e.hint || (e.trust.tier === 'quarantined' ? 'denied' : e.summary);
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}
