import { BrokerError } from '../lib/errors';
import { isTier } from '../trust/trust-tiers';
import { isTrustScore } from '../trust/trust-score';
import { CedarApi, cedarErrorText, defaultCedarApi, PolicyJson } from './cedar-api';
import { createDecisionCache, decisionCacheKey, type DecisionCacheStats } from './decision-cache';
import { analyzeDecisionInputs } from './decision-inputs';
import { CedarInput, cedarEntities, DecisionRequest, MalformedRequestError, toCedarInput } from './decision-request';
import { deepFreeze } from './deep-freeze';
import {
  actionInScope,
  allowHint,
  CandidatePlan,
  CheckOutcome,
  DecisionKind,
  derivedRequires,
  evaluateCandidate,
  EvaluatedCandidate,
  Explanation,
  forbidHint,
  noPermitHint,
  toCandidate,
} from './explanation';
import { choosePermit, NO_OBLIGATIONS, obligationCount, obligationLabels, Obligations } from './obligations';
import { conditionChecks } from './policy-conditions';
import { PolicyLoadError } from './policy-load-error';
import { PolicyInfo, PolicySet } from './policy-set';

export interface PolicyDecision {
  readonly decision: DecisionKind;
  /** Cedar's determining policies: the matching permits on allow, the matching forbids on deny. */
  readonly determining: readonly { readonly id: string; readonly reason: string }[];
  /** The permit whose obligations apply (allow only). */
  readonly chosenPolicyId?: string;
  /** The chosen permit's obligations; empty on deny. */
  readonly obligations: Obligations;
  readonly explanation: Explanation;
  readonly policyVersion: string;
}

export interface PolicyEngineOptions {
  /** LRU size of the decision cache in entries; 0 turns it off. Default 10 000. */
  readonly cacheSize?: number;
  /** The decision cache's bound in bytes (policy.cache_bytes); 0 turns it off. Default 16 MiB. */
  readonly cacheBytes?: number;
  /** For tests that need Cedar to fail. */
  readonly cedar?: CedarApi;
  /** Told the hidden cause whenever a decision fails closed; for server-side logs. */
  readonly onError?: (err: unknown, req: DecisionRequest) => void;
}

export interface PolicyEngine {
  readonly policySet: PolicySet;
  readonly version: string;
  /**
   * Decides one request. Never throws except INVALID_ARGUMENT for a value the
   * agent sent that Cedar cannot hold (e.g. a fractional amount); every other
   * failure is a deny explained as "policy evaluation failed".
   */
  decide(req: DecisionRequest): PolicyDecision;
  cacheStats(): DecisionCacheStats;
}

export const EVALUATION_FAILED = 'policy evaluation failed';

/** What a deny's summary and hint are built from, apart from the resource. */
interface DenyBasis {
  readonly agent: string;
  readonly action: string;
  readonly matched: readonly PolicyInfo[];
  readonly evaluated: readonly EvaluatedCandidate[];
  readonly determining: PolicyDecision['determining'];
  readonly candidates: Explanation['candidates'];
  readonly trust: Explanation['trust'];
}

interface Evaluated {
  /** Frozen. */
  readonly decision: PolicyDecision;
  /** Set on a deny, whose text names the resource. */
  readonly deny?: DenyBasis;
}

interface CacheEntry extends Evaluated {
  /** The resource `decision` was rendered for. */
  readonly resource: string;
  /** The owner a deny's hint refers the agent to. */
  readonly owner?: string;
}
const DEFAULT_CACHE_SIZE = 10_000;
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * What a cache entry holds, in bytes, estimated from above: twice the length
 * of its JSON (V8 keeps most strings at one byte per character, and object
 * headers and pointers stay under the rest). The deny basis shares its
 * candidates with the decision and its plans with the engine.
 */
function entryBytes(e: unknown): number {
  const { decision, resource } = e as CacheEntry;
  return 2 * (JSON.stringify(decision).length + resource.length);
}

class EngineError extends Error {
  constructor(
    message: string,
    readonly deciding: readonly PolicyInfo[] = [],
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export function createPolicyEngine(policySet: PolicySet, opts: PolicyEngineOptions = {}): PolicyEngine {
  const cedar = opts.cedar ?? defaultCedarApi;
  const cache = createDecisionCache<CacheEntry>({
    maxEntries: opts.cacheSize ?? DEFAULT_CACHE_SIZE,
    maxBytes: opts.cacheBytes ?? DEFAULT_CACHE_BYTES,
    sizeOf: entryBytes,
  });
  // Which inputs the policies can observe; the cache key holds only those.
  const inputs = analyzeDecisionInputs(policySet.policies);
  const byId = new Map(policySet.policies.map((p) => [p.id, p]));
  const plans: CandidatePlan[] = policySet.policies
    .filter((p) => p.effect === 'permit')
    .map((policy) => {
      const checks = conditionChecks(policy.id, policy.json, cedar);
      return { policy, checks, requires: policy.requires ?? derivedRequires(checks) };
    });

  // Candidates for each action some action scope names, computed once.
  const plansByAction = new Map<string, readonly CandidatePlan[]>();
  for (const plan of plans) {
    const a = plan.policy.json.action;
    const uids = a.op === 'All' ? [] : 'entities' in a ? a.entities : 'entity' in a ? [a.entity] : [];
    for (const u of uids) {
      const { type, id } = '__entity' in u ? u.__entity : u;
      if (type === 'Action' && !plansByAction.has(id)) plansByAction.set(id, Object.freeze(plans.filter((p) => actionInScope(p.policy.json, id))));
    }
  }

  // Each action some scope names gets its own preparsed slice: the policies whose action scope
  // covers it. A policy outside the slice cannot apply to that action, so the decision (and
  // Cedar's reasons and errors) is the same, but Cedar evaluates a few policies instead of all.
  // Any other action uses the whole set.
  const sliceIds = new Map<string, string>();
  for (const p of policySet.policies) {
    const a = p.json.action;
    const uids = a.op === 'All' ? [] : 'entities' in a ? a.entities : 'entity' in a ? [a.entity] : [];
    for (const u of uids) {
      const { type, id } = '__entity' in u ? u.__entity : u;
      if (type !== 'Action' || sliceIds.has(id)) continue;
      const slice = policySet.policies.filter((q) => actionInScope(q.json, id));
      if (slice.length === policySet.policies.length) {
        sliceIds.set(id, policySet.preparsedId);
        continue;
      }
      // Content-addressed like the whole set (the version covers every policy's text).
      const sliceId = `${policySet.preparsedId}/action/${id}`;
      const answer = cedar.preparsePolicySet(sliceId, { staticPolicies: Object.fromEntries(slice.map((q) => [q.id, q.text])) });
      if (answer.type !== 'success') {
        throw new PolicyLoadError(policySet.source, [{ file: policySet.source, message: `cannot prepare the policies of ${id}: ${cedarErrorText(answer.errors)}` }]);
      }
      sliceIds.set(id, sliceId);
    }
  }

  // Every standalone check of every permit in one preparsed set, so explaining
  // a decision costs one more Cedar call however many candidates there are.
  const checksId = `${policySet.preparsedId}/checks`;
  const checkPolicies: Record<string, PolicyJson> = {};
  for (const plan of plans) for (const c of plan.checks) checkPolicies[c.key] = c.policy;
  const hasChecks = Object.keys(checkPolicies).length > 0;
  if (hasChecks) {
    const answer = cedar.preparsePolicySet(checksId, { staticPolicies: checkPolicies });
    if (answer.type !== 'success') {
      throw new PolicyLoadError(policySet.source, [{ file: policySet.source, message: `cannot prepare explanations: ${cedarErrorText(answer.errors)}` }]);
    }
  }
  // Likewise per action: only the checks of that action's candidates (the only ones read).
  const checkSliceIds = new Map<string, string>();
  if (hasChecks) {
    for (const [action, inScope] of plansByAction) {
      const slice: Record<string, PolicyJson> = {};
      for (const plan of inScope) for (const c of plan.checks) slice[c.key] = c.policy;
      if (Object.keys(slice).length === 0 || Object.keys(slice).length === Object.keys(checkPolicies).length) continue;
      const sliceId = `${checksId}/action/${action}`;
      const answer = cedar.preparsePolicySet(sliceId, { staticPolicies: slice });
      if (answer.type !== 'success') {
        throw new PolicyLoadError(policySet.source, [{ file: policySet.source, message: `cannot prepare explanations of ${action}: ${cedarErrorText(answer.errors)}` }]);
      }
      checkSliceIds.set(action, sliceId);
    }
  }

  /**
   * Evaluates a request. Everything here is a function of the cache key's
   * inputs, except the resource named in a deny's summary and hint; so a deny
   * also returns what `renderDeny` needs to name another resource.
   */
  function evaluate(req: DecisionRequest, input: CedarInput): Evaluated {
    const call = { principal: input.principal, action: input.action, resource: input.resource, context: input.context, entities: cedarEntities(input) };
    const main = cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: sliceIds.get(req.action) ?? policySet.preparsedId });
    if (main.type !== 'success') throw new EngineError(`Cedar failed: ${cedarErrorText(main.errors)}`);
    const { decision, diagnostics } = main.response;
    const matched = diagnostics.reason.map(policyById).sort(byIdOrder);
    const errored = new Map(diagnostics.errors.map((e) => [e.policyId, cedarErrorText([e.error])]));

    // Cedar skips a policy whose condition errors. For a forbid that would
    // turn "could not check the prohibition" into an allow: fail closed.
    if (decision === 'allow' && errored.size > 0) {
      const brokenForbids = Array.from(errored.keys(), policyById).filter((p) => p.effect === 'forbid');
      if (brokenForbids.length > 0) {
        throw new EngineError(`forbid policies could not be evaluated: ${brokenForbids.map((p) => p.id).join(', ')}`, brokenForbids);
      }
    }

    // An allow that needs no approval has no use for alternatives: list only the permits that
    // matched and skip the per-conjunct pass, which would double the cost of the hot path.
    // (TTL and use caps are applied, not negotiated, so they do not call for alternatives.)
    const plainAllow = decision === 'allow' && matched.some((p) => p.effect === 'permit' && p.obligations.approvals.length === 0);
    const inScope = plansFor(req.action);
    const candidatePlans = plainAllow ? inScope.filter((p) => matched.includes(p.policy)) : inScope;
    let evaluated: EvaluatedCandidate[];
    if (plainAllow) {
      // Every check of a matched permit held: exactly what evaluateCandidate gives when all are satisfied.
      evaluated = candidatePlans.map((plan) => ({ plan, failed: [], failedText: [], scopeFailed: false }));
    } else {
      let outcome: CheckOutcome = NOTHING_SATISFIED;
      if (hasChecks && candidatePlans.some((p) => p.checks.length > 0)) {
        const checks = cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: checkSliceIds.get(req.action) ?? checksId });
        if (checks.type !== 'success') throw new EngineError(`Cedar failed on explanation checks: ${cedarErrorText(checks.errors)}`);
        const d = checks.response.diagnostics;
        outcome = { satisfied: new Set(d.reason), errored: new Map(d.errors.map((e) => [e.policyId, cedarErrorText([e.error])])) };
      }
      // Groups as the cache key holds them (sorted, unique), so a cached explanation is the same for any order.
      const seen = { agent: req.agent.name, groups: [...new Set(req.agent.groups)].sort(), resource: req.resource, context: input.context as Record<string, unknown> };
      evaluated = candidatePlans.map((plan) => evaluateCandidate(plan, outcome, seen));
    }
    if (errored.size > 0) {
      evaluated = evaluated.map((e) => {
        // Belt and braces: a permit Cedar itself could not evaluate must not look satisfied.
        const err = errored.get(e.plan.policy.id);
        return err !== undefined && e.failedText.length === 0 ? { ...e, failedText: [`its conditions could not be evaluated: ${err}`] } : e;
      });
    }

    const trust = { score: input.context.trust as number, tier: req.context.tier };
    const determining = matched.map((p) => ({ id: p.id, reason: p.reason }));
    const candidates = evaluated.map(toCandidate);

    if (decision === 'allow') {
      const permits = matched.filter((p) => p.effect === 'permit');
      const chosen = choosePermit(permits);
      if (chosen === undefined) throw new EngineError('Cedar allowed without a determining permit');
      const kind: DecisionKind = obligationCount(chosen.obligations) === 0 ? 'allow' : 'allow_with_obligations';
      const summary =
        kind === 'allow' ? `permitted by ${chosen.id}` : `permitted by ${chosen.id} with obligations: ${obligationLabels(chosen.obligations).join(', ')}`;
      const allowed: PolicyDecision = {
        decision: kind,
        determining,
        chosenPolicyId: chosen.id,
        obligations: chosen.obligations,
        explanation: { decision: kind, summary, deciding_policies: determining, candidates, hint: allowHint(chosen, chosen.obligations), trust },
        policyVersion: policySet.version,
      };
      return { decision: deepFreeze(allowed) };
    }

    const basis: DenyBasis = { agent: req.agent.name, action: req.action, matched, evaluated, determining, candidates, trust };
    return { decision: renderDeny(basis, req.resource, req.agent.owner), deny: basis };
  }

  /** A deny's decision for `resource`; the only part of a decision that names the resource. */
  function renderDeny(b: DenyBasis, resource: string, owner: string | undefined): PolicyDecision {
    const { agent, action, matched } = b;
    const summary = matched.length > 0 ? `forbidden by ${matched.map((p) => p.id).join(', ')}` : `no policy permits ${action} on ${resource} for ${agent}`;
    const hint = matched.length > 0 ? forbidHint(matched, b.trust.tier) : noPermitHint({ agent, action, resource, tier: b.trust.tier, ...(owner ? { owner } : {}) }, b.evaluated);
    return deepFreeze({
      decision: 'deny',
      determining: b.determining,
      obligations: NO_OBLIGATIONS,
      explanation: { decision: 'deny', summary, deciding_policies: b.determining, candidates: b.candidates, hint, trust: b.trust },
      policyVersion: policySet.version,
    });
  }

  /** The permits whose action scope covers `action`, in policy order. */
  function plansFor(action: string): readonly CandidatePlan[] {
    return plansByAction.get(action) ?? plans.filter((p) => actionInScope(p.policy.json, action));
  }

  function policyById(id: string): PolicyInfo {
    const p = byId.get(id);
    if (p === undefined) throw new EngineError(`Cedar named unknown policy ${id}`);
    return p;
  }

  function failClosed(req: DecisionRequest, err: unknown): PolicyDecision {
    try {
      opts.onError?.(err, req);
    } catch {
      // A failing logger must not turn a denial into an exception.
    }
    const deciding = err instanceof EngineError ? err.deciding.map((p) => ({ id: p.id, reason: p.reason })) : [];
    const ctx = (req as Partial<DecisionRequest> | null)?.context;
    return deepFreeze({
      decision: 'deny',
      determining: deciding,
      obligations: NO_OBLIGATIONS,
      explanation: {
        decision: 'deny',
        summary: EVALUATION_FAILED,
        deciding_policies: deciding,
        candidates: [],
        hint: 'Policy evaluation failed; retry later, and ask an operator to check the policies if it persists.',
        trust: { score: isTrustScore(ctx?.trust) ? ctx.trust : 0, tier: isTier(ctx?.tier) ? ctx.tier : 'quarantined' },
      },
      policyVersion: policySet.version,
    });
  }

  return Object.freeze({
    policySet,
    version: policySet.version,
    decide(req: DecisionRequest): PolicyDecision {
      let input: CedarInput;
      try {
        input = toCedarInput(req);
      } catch (err) {
        // A value the agent sent is a bad request; anything else is our bug.
        if (err instanceof BrokerError && err.kind === 'invalid_argument') throw err;
        return failClosed(req, err);
      }
      // Cedar would reject it by throwing out of wasm, which leaks wasm stack each time until,
      // some 1500 requests later, the instance traps on every call. Same answer, without the call.
      if (!input.wellFormed) return failClosed(req, new MalformedRequestError('a string in the request holds a lone UTF-16 surrogate, which Cedar cannot read'));
      try {
        const key = decisionCacheKey(policySet.version, input, inputs);
        const hit = cache.get(key);
        if (hit !== undefined) {
          // Only a deny's text names the resource (and the owner), and the key may leave the resource out.
          return hit.deny === undefined || (hit.resource === req.resource && hit.owner === req.agent.owner) ? hit.decision : renderDeny(hit.deny, req.resource, req.agent.owner);
        }
        const result = evaluate(req, input);
        cache.set(key, { ...result, resource: req.resource, ...(req.agent.owner ? { owner: req.agent.owner } : {}) });
        return result.decision;
      } catch (err) {
        // Not cached: an engine failure may be transient, and a retry should re-evaluate.
        return failClosed(req, err);
      }
    },
    cacheStats: () => cache.stats(),
  });
}

const NOTHING_SATISFIED: CheckOutcome = Object.freeze({ satisfied: new Set<string>(), errored: new Map<string, string>() });

function byIdOrder(a: PolicyInfo, b: PolicyInfo): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
