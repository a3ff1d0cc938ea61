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
  /** The condition alone (without `unless`), for "<condition> was false/true". */
  readonly condition?: string;
  readonly kind?: 'when' | 'unless';
  /** The context paths it reads (`["amount"]`, `["params", "n"]`), whose values an explanation shows. */
  readonly reads?: readonly (readonly string[])[];
  /** What would meet it, when it compares one context path with a literal. */
  readonly remedy?: Remedy;
}

/**
 * What a request needs to meet one check, derived from its comparison in
 * Cedar's policy tree: a field's bound, a trust score, or a set of tiers.
 */
export type Remedy =
  | { readonly kind: 'at_most' | 'at_least'; readonly field: string; readonly value: number }
  | { readonly kind: 'equal'; readonly field: string; readonly value: string | number | boolean }
  | { readonly kind: 'trust'; readonly score: number }
  | { readonly kind: 'tier'; readonly tiers: readonly string[] };

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
      const remedy = remedyOf(body, clause.kind === 'unless');
      add({
        clause: clauseIndex,
        text,
        failedText: text,
        trustOnly: refs.size > 0 && [...refs].every((r) => TRUST_KEYS.has(r)),
        policy: standalone,
        condition: expr,
        kind: clause.kind,
        reads: contextPaths(body),
        ...(remedy ? { remedy } : {}),
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

const TIER_ORDER: readonly string[] = Object.freeze(['quarantined', 'restricted', 'standard', 'trusted']);
type CmpOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
const FLIP: Readonly<Record<CmpOp, CmpOp>> = Object.freeze({ '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==', '!=': '!=' });
const NEGATE: Readonly<Record<CmpOp, CmpOp>> = Object.freeze({ '<': '>=', '<=': '>', '>': '<=', '>=': '<', '==': '!=', '!=': '==' });

/**
 * What would meet `expr` (or, `negated`, make it false: an `unless`, or a
 * forbid's condition), when it compares one context path with a literal:
 * `context.amount <= 5000` → amount at most 5000; `context.trust >= 700` →
 * trust 700; `context.tier != "restricted"` or `context.tier in [...]` → the
 * tiers that would do. Anything else has no remedy (the hint names the condition).
 */
export function remedyOf(expr: Expr, negated = false): Remedy | undefined {
  const rec = expr as Record<string, unknown>;
  const keys = Object.keys(rec);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  if (key === 'in' && !negated) {
    const node = rec['in'] as { left: Expr; right: Expr };
    const path = contextPath(node.left);
    const set = (node.right as { Set?: Expr[] }).Set;
    if (path?.join('.') === 'tier' && Array.isArray(set)) {
      const tiers = set.map((e) => (e as { Value?: unknown }).Value).filter((v): v is string => typeof v === 'string' && TIER_ORDER.includes(v));
      return tiers.length > 0 ? { kind: 'tier', tiers: sortTiers(tiers) } : undefined;
    }
    return undefined;
  }
  if (!(key in FLIP)) return undefined;
  const node = rec[key] as { left: Expr; right: Expr };
  let op = key as CmpOp;
  let path = contextPath(node.left);
  let literal = literalOf(node.right);
  if (!path || literal === undefined) {
    path = contextPath(node.right);
    literal = literalOf(node.left);
    op = FLIP[op];
  }
  if (!path || literal === undefined) return undefined;
  if (negated) op = NEGATE[op];
  const field = path.join('.');
  if (field === 'tier' && typeof literal === 'string' && TIER_ORDER.includes(literal)) {
    const tiers = op === '==' ? [literal] : op === '!=' ? TIER_ORDER.filter((t) => t !== literal) : [];
    return tiers.length > 0 ? { kind: 'tier', tiers: sortTiers(tiers) } : undefined;
  }
  if (typeof literal === 'number') {
    if (field === 'trust') {
      if (op === '>=' || op === '>') return { kind: 'trust', score: op === '>' ? literal + 1 : literal };
      return undefined;
    }
    if (op === '<=' || op === '<') return { kind: 'at_most', field, value: op === '<' ? literal - 1 : literal };
    if (op === '>=' || op === '>') return { kind: 'at_least', field, value: op === '>' ? literal + 1 : literal };
  }
  if (op === '==') return { kind: 'equal', field, value: literal };
  return undefined;
}

/** Tiers from the lowest up: the first is the nearest one to wait for. */
function sortTiers(tiers: readonly string[]): string[] {
  return [...new Set(tiers)].sort((a, b) => TIER_ORDER.indexOf(a) - TIER_ORDER.indexOf(b));
}

function literalOf(e: Expr): string | number | boolean | undefined {
  const v = (e as { Value?: unknown }).Value;
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : undefined;
}

/** `context.a.b` → ["a", "b"]; anything not a chain of attribute reads on `context` → undefined. */
function contextPath(e: unknown): string[] | undefined {
  if (e === null || typeof e !== 'object') return undefined;
  const node = (e as Record<string, unknown>)['.'] as { left?: unknown; attr?: unknown } | undefined;
  if (!node || typeof node.attr !== 'string') return undefined;
  if (isContextVar(node.left)) return [node.attr];
  const inner = contextPath(node.left);
  return inner ? [...inner, node.attr] : undefined;
}

/** Every context path an expression reads (longest chains; `context has x` counts as x), in order of first use. */
export function contextPaths(expr: unknown): string[][] {
  const seen = new Map<string, string[]>();
  const walk = (e: unknown): void => {
    if (Array.isArray(e)) {
      for (const x of e) walk(x);
      return;
    }
    if (e === null || typeof e !== 'object') return;
    const path = contextPath(e);
    if (path) {
      seen.set(path.join('.'), path);
      return;
    }
    const has = (e as Record<string, unknown>)['has'] as { left?: unknown; attr?: unknown } | undefined;
    if (has && (isContextVar(has.left) || contextPath(has.left))) {
      const base = isContextVar(has.left) ? [] : contextPath(has.left)!;
      const attrs = Array.isArray(has.attr) ? (has.attr as unknown[]).filter((a): a is string => typeof a === 'string') : typeof has.attr === 'string' ? [has.attr] : [];
      const path = [...base, ...attrs];
      if (path.length > 0) seen.set(path.join('.'), path);
      return;
    }
    for (const v of Object.values(e as Record<string, unknown>)) walk(v);
  };
  walk(expr);
  return [...seen.values()];
}

const MAX_VALUE_TEXT = 120;

/**
 * The values a check saw, e.g. `context.amount = 50000`, read from the
 * request's Cedar context (an absent one says so). Long values are cut.
 */
export function observedValues(paths: readonly (readonly string[])[], context: Readonly<Record<string, unknown>>): string[] {
  return paths.map((path) => {
    let v: unknown = context;
    for (const p of path) {
      v = v !== null && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, p) ? (v as Record<string, unknown>)[p] : undefined;
      if (v === undefined) break;
    }
    const label = `context.${path.join('.')}`;
    if (v === undefined) return `${label} is absent`;
    const text = JSON.stringify(v) ?? String(v);
    return `${label} = ${text.length > MAX_VALUE_TEXT ? `${text.slice(0, MAX_VALUE_TEXT)}…` : text}`;
  });
}
