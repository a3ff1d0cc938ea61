import type { CedarApi, EntityUidJson, Expr, PolicyJson } from './cedar-api';
import { cedarErrorText } from './cedar-api';

/**
 * One requirement of a permit that can be evaluated on its own: a principal or
 * resource scope constraint, or one conjunct of a `when`/`unless` clause.
 * Evaluating each alone names exactly which requirement a request failed.
 */
export interface ConditionCheck {
  /** Id of the standalone policy in the check set: `<policy id>#<n>`. */
  readonly key: string;
  /** Conjuncts of one clause short-circuit like Cedar's `&&`; scope checks use -1. */
  readonly clause: number;
  /** What the policy requires, e.g. `context.amount <= 5000`. */
  readonly text: string;
  /** What an explanation says when this check fails. */
  readonly failedText: string;
  /** Only trust/tier/trust_fresh are involved, so waiting for (fresh) trust could satisfy it. */
  readonly trustOnly: boolean;
  readonly policy: PolicyJson;
}

const ALL = { op: 'All' } as const;
const TRUST_KEYS: ReadonlySet<string> = new Set(['trust', 'tier', 'trust_fresh']);

export function entityText(uid: EntityUidJson): string {
  const { type, id } = '__entity' in uid ? uid.__entity : uid;
  return `${type}::${JSON.stringify(id)}`;
}

/** Splits a policy's scope (principal, resource) and conditions into standalone checks. */
export function conditionChecks(policyId: string, policy: PolicyJson, cedar: Pick<CedarApi, 'policyToText'>): ConditionCheck[] {
  const checks: ConditionCheck[] = [];
  const add = (c: Omit<ConditionCheck, 'key'>): void => {
    checks.push({ key: `${policyId}#${checks.length}`, ...c });
  };

  for (const slot of ['principal', 'resource'] as const) {
    const text = scopeText(slot, policy[slot]);
    if (text === undefined) continue;
    const standalone: PolicyJson = { effect: 'permit', principal: ALL, action: ALL, resource: ALL, conditions: [], [slot]: policy[slot] };
    add({ clause: -1, text: text.requires, failedText: text.failed, trustOnly: false, policy: standalone });
  }

  policy.conditions.forEach((clause, clauseIndex) => {
    // `when {A && B}` holds when every conjunct holds; `unless {A || B}` when
    // no disjunct does, so each disjunct becomes its own `unless` check.
    const parts = clause.kind === 'when' ? flatten(clause.body, '&&') : flatten(clause.body, '||');
    for (const body of parts) {
      const standalone: PolicyJson = { effect: 'permit', principal: ALL, action: ALL, resource: ALL, conditions: [{ kind: clause.kind, body }] };
      const expr = conditionText(standalone, clause.kind, cedar);
      const text = clause.kind === 'when' ? expr : `unless ${expr}`;
      const refs = contextAttributes(body);
      add({
        clause: clauseIndex,
        text,
        failedText: text,
        trustOnly: refs.size > 0 && [...refs].every((r) => TRUST_KEYS.has(r)),
        policy: standalone,
      });
    }
  });
  return checks;
}

/** `permit (principal in Group::"x", action == Action::"a", resource)`: enough to find a policy that has no id. */
export function policyHead(policy: PolicyJson): string {
  const a = policy.action;
  const uids = a.op === 'All' ? [] : 'entities' in a ? a.entities : 'entity' in a ? [a.entity] : [];
  const action = a.op === 'All' ? 'action' : 'entities' in a ? `action in [${uids.map(entityText).join(', ')}]` : `action ${a.op} ${uids.map(entityText).join('')}`;
  const scope = (slot: 'principal' | 'resource'): string => scopeText(slot, policy[slot])?.requires ?? slot;
  return `${policy.effect} (${scope('principal')}, ${action}, ${scope('resource')})`;
}

function flatten(expr: Expr, op: '&&' | '||'): Expr[] {
  const node = (expr as Record<string, unknown>)[op] as { left: Expr; right: Expr } | undefined;
  if (node === undefined || Object.keys(expr).length !== 1) return [expr];
  return [...flatten(node.left, op), ...flatten(node.right, op)];
}

function scopeText(slot: 'principal' | 'resource', c: PolicyJson['principal']): { requires: string; failed: string } | undefined {
  switch (c.op) {
    case 'All':
      return undefined;
    case '==':
      if ('entity' in c) return { requires: `${slot} == ${entityText(c.entity)}`, failed: `${slot} must be ${entityText(c.entity)}` };
      break;
    case 'in':
      if ('entity' in c) return { requires: `${slot} in ${entityText(c.entity)}`, failed: `${slot} must be in ${entityText(c.entity)}` };
      break;
    case 'is': {
      const within = c.in && 'entity' in c.in ? ` in ${entityText(c.in.entity)}` : '';
      return { requires: `${slot} is ${c.entity_type}${within}`, failed: `${slot} must be a ${c.entity_type}${within}` };
    }
  }
  // Slots only occur in templates, which the loader rejects.
  return { requires: `${slot} constraint`, failed: `${slot} constraint not met` };
}

/** Cedar's own rendering of one condition, cut out of a standalone policy's text. */
function conditionText(standalone: PolicyJson, kind: 'when' | 'unless', cedar: Pick<CedarApi, 'policyToText'>): string {
  const answer = cedar.policyToText(standalone);
  if (answer.type !== 'success') return `(unprintable condition: ${cedarErrorText(answer.errors)})`;
  const prefix = `permit(principal, action, resource) ${kind} { `;
  const suffix = ' };';
  const t = answer.text.trim();
  return t.startsWith(prefix) && t.endsWith(suffix) ? t.slice(prefix.length, t.length - suffix.length) : t;
}

/** Names of top-level context attributes an expression reads (`context.x`, `context has x`). */
export function contextAttributes(expr: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(expr)) {
    for (const e of expr) contextAttributes(e, into);
  } else if (expr !== null && typeof expr === 'object') {
    const rec = expr as Record<string, unknown>;
    for (const op of ['.', 'has'] as const) {
      const node = rec[op] as { left?: unknown; attr?: unknown } | undefined;
      if (node && isContextVar(node.left)) {
        // `context has a.b` carries ["a", "b"]; only "a" is a context key.
        const attr = Array.isArray(node.attr) ? node.attr[0] : node.attr;
        if (typeof attr === 'string') into.add(attr);
      }
    }
    for (const v of Object.values(rec)) contextAttributes(v, into);
  }
  return into;
}

function isContextVar(e: unknown): boolean {
  return e !== null && typeof e === 'object' && (e as { Var?: unknown }).Var === 'context';
}
