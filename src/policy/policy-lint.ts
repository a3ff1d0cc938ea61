import type { EntityUidJson, PolicyJson } from './cedar-api';
import { actionInScope } from './explanation';
import type { PolicyInfo, PolicySet } from './policy-set';

/** What `policy lint` checks a policy set against: the configured actions and agents. */
export interface LintTarget {
  readonly actions: readonly string[];
  readonly agents: ReadonlyArray<{ readonly name: string; readonly groups: readonly string[] }>;
}

export type LintFinding =
  | { readonly kind: 'action_unpermitted'; readonly action: string; readonly message: string }
  | { readonly kind: 'rule_unmatched'; readonly policy: string; readonly file: string; readonly line: number; readonly message: string };

/**
 * Static coverage of a policy set (the seed's "privileged action policy
 * coverage"), from each policy's scope in Cedar's JSON form:
 * - a configured action that no permit can grant: no permit's action scope
 *   covers it with a principal scope some configured agent fits, or a forbid
 *   with no condition covers it for every agent;
 * - a rule that can never match: its action scope names no configured action,
 *   or its principal scope fits no configured agent.
 * Conditions (`when`/`unless`) are not solved: a permit whose condition is
 * always false is not found. A scope shape it does not know is assumed to match.
 */
export function lintPolicySet(set: Pick<PolicySet, 'policies'>, target: LintTarget): LintFinding[] {
  const findings: LintFinding[] = [];
  const fitsSomeAgent = (p: PolicyInfo) => target.agents.some((a) => principalFits(p.json, a));
  for (const p of set.policies) {
    const where = { policy: p.id, file: p.file, line: p.line };
    if (!target.actions.some((a) => actionInScope(p.json, a))) {
      findings.push({ kind: 'rule_unmatched', ...where, message: `${p.effect} "${p.id}" names no configured action (${scopeActions(p.json)})` });
    } else if (!fitsSomeAgent(p)) {
      findings.push({ kind: 'rule_unmatched', ...where, message: `${p.effect} "${p.id}" fits no configured agent (${principalText(p.json)})` });
    }
  }
  for (const action of target.actions) {
    const permits = set.policies.filter((p) => p.effect === 'permit' && actionInScope(p.json, action) && fitsSomeAgent(p));
    const blanket = set.policies.find((p) => p.effect === 'forbid' && actionInScope(p.json, action) && p.json.principal.op === 'All' && p.json.resource.op === 'All' && p.json.conditions.length === 0);
    if (permits.length === 0) findings.push({ kind: 'action_unpermitted', action, message: `no rule can permit ${action}: no permit covers it for a configured agent` });
    else if (blanket) findings.push({ kind: 'action_unpermitted', action, message: `no rule can permit ${action}: forbid "${blanket.id}" refuses it for everyone, unconditionally` });
  }
  return findings;
}

/** The configured actions some permit's scope grants this agent (a forbid is not subtracted; conditions are not solved). */
export function actionsPermittedFor(set: Pick<PolicySet, 'policies'>, actions: readonly string[], agent: { name: string; groups: readonly string[] }): string[] {
  return actions.filter((a) => set.policies.some((p) => p.effect === 'permit' && actionInScope(p.json, a) && principalFits(p.json, agent)));
}

function uid(e: EntityUidJson): { type: string; id: string } {
  return '__entity' in e ? e.__entity : e;
}

function principalFits(p: PolicyJson, agent: { name: string; groups: readonly string[] }): boolean {
  const c = p.principal;
  const fitsEntity = (e: EntityUidJson): boolean => {
    const { type, id } = uid(e);
    if (type === 'Agent') return id === agent.name;
    if (type === 'Group') return agent.groups.includes(id);
    return false;
  };
  switch (c.op) {
    case 'All':
      return true;
    case '==':
      return 'entity' in c ? uid(c.entity).type === 'Agent' && uid(c.entity).id === agent.name : true;
    case 'in':
      return 'entity' in c ? fitsEntity(c.entity) : true;
    case 'is':
      if (c.entity_type !== 'Agent') return false;
      return c.in && 'entity' in c.in ? fitsEntity(c.in.entity) : true;
    default:
      return true;
  }
}

function scopeActions(p: PolicyJson): string {
  const a = p.action;
  if (a.op === 'All') return 'every action';
  const uids = 'entities' in a ? a.entities : 'entity' in a ? [a.entity] : [];
  return uids.map((u) => `${uid(u).type}::"${uid(u).id}"`).join(', ');
}

function principalText(p: PolicyJson): string {
  const c = p.principal;
  if (c.op === 'All') return 'any principal';
  if (c.op === 'is') return `principal is ${c.entity_type}${c.in && 'entity' in c.in ? ` in ${uid(c.in.entity).type}::"${uid(c.in.entity).id}"` : ''}`;
  return 'entity' in c ? `principal ${c.op} ${uid(c.entity).type}::"${uid(c.entity).id}"` : `principal ${c.op}`;
}
