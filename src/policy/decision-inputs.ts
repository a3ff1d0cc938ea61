import type { PolicyJson } from './cedar-api';
import { ACTION_TYPE, GROUP_TYPE, PRINCIPAL_TYPE } from './decision-request';

/**
 * Which request inputs a policy set can observe, found by a conservative
 * static walk of every policy's JSON form (permits and forbids, scopes and
 * conditions). The decision cache keys on these alone (plus the policy-set
 * version, principal, groups and action, which are always in the key), so
 * distinct tickets on a set that never looks at the resource share one entry.
 *
 * Conservative means: anything the walk does not positively recognise makes
 * it answer FULL_INPUTS (today's key, every input). The rules:
 *
 * - **resource** is observable when any policy's resource scope is not `All`;
 *   when any condition mentions the variable `resource` anywhere (`resource.x`,
 *   `resource has x`, `resource in …`, `resource is …`, `==`, passing it to a
 *   function, …); or when any entity literal anywhere in any policy has a type
 *   other than the principal's, a group's or the action's. (Such a literal may
 *   name the request's resource entity, and Cedar answers differently for an
 *   entity that exists: `Resource::"r1".foo` errors with "does not have the
 *   attribute" rather than "does not exist", and that text reaches the
 *   explanation.)
 * - **context** is narrowed to the top-level attributes read as `context.x`,
 *   `context["x"]` or `context has x` (`context has a.b` reads `a`). Any other
 *   appearance of `context` (compared, put in a set or record, passed to a
 *   function, …) makes the whole context observable. `trust`, `tier` and
 *   `trust_fresh` are always in the key, because every explanation reports them. The key also
 *   holds the names of all context attributes present: Cedar lists them in the
 *   error for a missing attribute ("available attributes: [...]").
 * - principal, groups, action and version are always in the key.
 */
export interface DecisionInputs {
  /** Whether some policy can observe the resource; when false it is left out of the key. */
  readonly resource: boolean;
  /** `'all'`, or the sorted top-level context attributes whose values go in the key. */
  readonly context: 'all' | readonly string[];
  /** Why the analysis fell back to FULL_INPUTS, if it did. */
  readonly fallback?: string;
}

export const FULL_INPUTS: DecisionInputs = Object.freeze({ resource: true, context: 'all' as const });

/**
 * Always in the key: explanations report the trust score and tier, and
 * `trust_fresh` is trust too (a cache must never answer a request made with
 * fresh trust from one decided with stale trust, whatever the analysis says).
 */
const ALWAYS_KEYED_CONTEXT: readonly string[] = ['trust', 'tier', 'trust_fresh'];

/** Entity types whose entities are fully described by key inputs (principal, groups, action). */
const KEYED_ENTITY_TYPES: ReadonlySet<string> = new Set([PRINCIPAL_TYPE, GROUP_TYPE, ACTION_TYPE]);

const POLICY_KEYS: ReadonlySet<string> = new Set(['effect', 'principal', 'action', 'resource', 'conditions', 'annotations']);
const UNARY: ReadonlySet<string> = new Set(['!', 'neg', 'isEmpty']);
const BINARY: ReadonlySet<string> = new Set(['==', '!=', 'in', '<', '<=', '>', '>=', '&&', '||', '+', '-', '*', 'contains', 'containsAll', 'containsAny', 'getTag', 'hasTag']);
/** Cedar's extension functions and methods (ipaddr, decimal, datetime): pure functions of their arguments. */
const EXTENSION_FUNCTIONS: ReadonlySet<string> = new Set([
  'ip', 'isIpv4', 'isIpv6', 'isLoopback', 'isMulticast', 'isInRange',
  'decimal', 'lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual',
  'datetime', 'duration', 'offset', 'durationSince', 'toDate', 'toTime',
  'toDays', 'toHours', 'toMinutes', 'toSeconds', 'toMilliseconds',
]);

class Unrecognised extends Error {}

interface Found {
  resource: boolean;
  wholeContext: boolean;
  attrs: Set<string>;
}

/** Never throws: a policy it cannot fully account for yields FULL_INPUTS. */
export function analyzeDecisionInputs(policies: readonly { readonly id?: string; readonly json: PolicyJson }[]): DecisionInputs {
  const found: Found = { resource: false, wholeContext: false, attrs: new Set() };
  for (const p of policies) {
    try {
      analyzePolicy(p.json, found);
    } catch (err) {
      const why = err instanceof Unrecognised ? err.message : `analysis failed: ${String(err)}`;
      return Object.freeze({ ...FULL_INPUTS, fallback: p.id === undefined ? why : `${p.id}: ${why}` });
    }
  }
  const context = found.wholeContext ? ('all' as const) : Object.freeze([...new Set([...ALWAYS_KEYED_CONTEXT, ...found.attrs])].sort());
  return Object.freeze({ resource: found.resource, context });
}

function analyzePolicy(json: unknown, found: Found): void {
  const policy = record(json, 'policy');
  for (const k of Object.keys(policy)) if (!POLICY_KEYS.has(k)) fail(`unknown policy field ${k}`);
  if (policy.effect !== 'permit' && policy.effect !== 'forbid') fail('unknown effect');

  scope(policy.principal, ['All', '==', 'in', 'is'], found);
  scope(policy.action, ['All', '==', 'in'], found);
  const resource = scope(policy.resource, ['All', '==', 'in', 'is'], found);
  if (resource !== 'All') found.resource = true;

  if (!Array.isArray(policy.conditions)) fail('conditions is not a list');
  for (const c of policy.conditions as unknown[]) {
    const clause = record(c, 'clause');
    if (Object.keys(clause).length !== 2 || (clause.kind !== 'when' && clause.kind !== 'unless')) fail('unknown clause');
    expr(clause.body, found);
  }
}

/** Checks a scope constraint's shape and the entity literals in it; returns its op. */
function scope(c: unknown, ops: readonly string[], found: Found): string {
  const s = record(c, 'scope');
  if (typeof s.op !== 'string' || !ops.includes(s.op)) fail(`unknown scope op ${String(s.op)}`);
  for (const [k, v] of Object.entries(s)) {
    switch (k) {
      case 'op':
        break;
      case 'entity':
        entityUid(v, found);
        break;
      case 'entities':
        if (!Array.isArray(v)) fail('scope entities is not a list');
        for (const e of v as unknown[]) entityUid(e, found);
        break;
      case 'entity_type':
        if (typeof v !== 'string') fail('scope entity_type is not a string');
        break;
      case 'in': {
        const inner = record(v, 'scope in');
        if (Object.keys(inner).length !== 1 || !('entity' in inner)) fail('unknown scope in-constraint');
        entityUid(inner.entity, found);
        break;
      }
      default:
        // `slot` (templates, which the loader rejects) or anything new.
        fail(`unknown scope field ${k}`);
    }
  }
  return s.op as string;
}

/** An entity uid in a scope: `{type, id}` or `{__entity: {type, id}}`. */
function entityUid(u: unknown, found: Found): void {
  const r = record(u, 'entity');
  const inner = '__entity' in r ? record(r.__entity, 'entity') : r;
  if (typeof inner.type !== 'string' || typeof inner.id !== 'string') fail('malformed entity uid');
  entityType(inner.type, found);
}

function entityType(type: string, found: Found): void {
  if (!KEYED_ENTITY_TYPES.has(type)) found.resource = true;
}

function expr(e: unknown, found: Found): void {
  const node = record(e, 'expression');
  const ops = Object.keys(node);
  if (ops.length !== 1) fail('expression node without exactly one operator');
  const op = ops[0];
  const v = node[op];
  if (op === 'Value') return value(v, found);
  if (op === 'Var') {
    if (v === 'resource') found.resource = true;
    else if (v === 'context') found.wholeContext = true;
    else if (v !== 'principal' && v !== 'action') fail(`unknown variable ${String(v)}`);
    return;
  }
  if (UNARY.has(op)) return expr(fields(v, op, ['arg']).arg, found);
  if (BINARY.has(op)) {
    const b = fields(v, op, ['left', 'right']);
    expr(b.left, found);
    return expr(b.right, found);
  }
  switch (op) {
    case '.': {
      const a = fields(v, op, ['left', 'attr']);
      if (typeof a.attr !== 'string') fail('attribute name is not a string');
      return contextRead(a.left, a.attr as string, found);
    }
    case 'has': {
      const a = fields(v, op, ['left', 'attr']);
      // `context has a.b` carries ["a", "b"] and reads only `a` of the context.
      const path = Array.isArray(a.attr) ? (a.attr as unknown[]) : [a.attr];
      if (path.length === 0 || !path.every((x) => typeof x === 'string')) fail('malformed has');
      return contextRead(a.left, path[0] as string, found);
    }
    case 'like': {
      const l = fields(v, op, ['left', 'pattern']);
      if (!Array.isArray(l.pattern)) fail('malformed like pattern');
      return expr(l.left, found);
    }
    case 'is': {
      const i = fields(v, op, ['left', 'entity_type'], ['in']);
      if (typeof i.entity_type !== 'string') fail('malformed is');
      expr(i.left, found);
      if ('in' in i) expr(i.in, found);
      return;
    }
    case 'if-then-else': {
      const t = fields(v, op, ['if', 'then', 'else']);
      expr(t.if, found);
      expr(t.then, found);
      return expr(t.else, found);
    }
    case 'Set':
      if (!Array.isArray(v)) fail('malformed set');
      for (const x of v as unknown[]) expr(x, found);
      return;
    case 'Record':
      for (const x of Object.values(record(v, 'record'))) expr(x, found);
      return;
  }
  if (EXTENSION_FUNCTIONS.has(op) && Array.isArray(v)) {
    for (const x of v as unknown[]) expr(x, found);
    return;
  }
  // `Slot` (templates), an unknown function, or a node kind this walk does not know.
  fail(`unknown expression node ${op}`);
}

/** `context.x` / `context has x` read one attribute; anything else is walked as an expression. */
function contextRead(left: unknown, attr: string, found: Found): void {
  if (isVar(left, 'context')) found.attrs.add(attr);
  else expr(left, found);
}

/** A literal: only entity references in it matter (records and sets of them included). */
function value(v: unknown, found: Found): void {
  if (Array.isArray(v)) {
    for (const x of v) value(x, found);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const r = v as Record<string, unknown>;
  if ('__entity' in r) return entityUid(r, found);
  // Read conservatively: a record shaped like a uid counts as one.
  if (typeof r.type === 'string' && 'id' in r) entityType(r.type, found);
  for (const x of Object.values(r)) value(x, found);
}

function isVar(e: unknown, name: string): boolean {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return false;
  const keys = Object.keys(e);
  return keys.length === 1 && keys[0] === 'Var' && (e as { Var: unknown }).Var === name;
}

/** The operand object of a node, which must have exactly the required keys (and maybe the optional ones). */
function fields(v: unknown, op: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  const r = record(v, op);
  for (const k of required) if (!(k in r)) fail(`${op} without ${k}`);
  for (const k of Object.keys(r)) if (!required.includes(k) && !optional.includes(k)) fail(`${op} with unknown field ${k}`);
  return r;
}

function record(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function fail(message: string): never {
  throw new Unrecognised(message);
}
