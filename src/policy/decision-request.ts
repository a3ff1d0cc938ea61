import { invalidArgument } from '../lib/errors';
import { isTier, Tier } from '../trust/trust-tiers';
import { isTrustScore } from '../trust/trust-score';
import type { Context, Entities } from './cedar-api';

type Uid = { readonly type: string; readonly id: string };

/** Entity types of a request (README, "Request"). */
export const PRINCIPAL_TYPE = 'Agent';
export const GROUP_TYPE = 'Group';
export const ACTION_TYPE = 'Action';
export const RESOURCE_TYPE = 'Resource';

/** What the broker asks the policy engine. */
export interface DecisionRequest {
  /** `owner` is not seen by Cedar: a denial's hint refers the agent to them. */
  readonly agent: { readonly name: string; readonly groups: readonly string[]; readonly owner?: string };
  readonly action: string;
  readonly resource: string;
  readonly context: DecisionContext;
}

/**
 * `trust`, `tier`, `trust_fresh` and `params`, plus one key per declared context field of
 * the action (e.g. `amount`). `trust_age_seconds` is accepted and dropped:
 * it changes with the clock, so it would make decisions impure and the cache
 * unsound, and the loader rejects policies that read it.
 */
export interface DecisionContext {
  readonly trust: number;
  readonly tier: Tier;
  /** A signal or set confirmed the score within `trust.fresh_within` (the broker always supplies it). */
  readonly trust_fresh?: boolean;
  readonly params: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

/** A request in the form Cedar takes, after validation. */
export interface CedarInput {
  readonly principal: Uid;
  readonly action: Uid;
  readonly resource: Uid;
  readonly context: Context;
  /** Sorted, de-duplicated groups (membership is a set). */
  readonly groups: readonly string[];
  /**
   * False when some string (an id, a context key or value) holds a lone UTF-16
   * surrogate. Cedar cannot read such a request (its JSON parser throws out of
   * wasm, leaking wasm stack), so the engine fails it closed without calling
   * Cedar, and never answers it from the cache, whose key may leave that
   * string out.
   */
  readonly wellFormed: boolean;
}

/** The broker, not the agent, supplies these; a bad one is a bug and must fail closed. */
export class MalformedRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedRequestError';
  }
}

const DROPPED_KEYS: ReadonlySet<string> = new Set(['trust_age_seconds']);
/** JSON keys Cedar reads as entity or extension escapes; agent data must not smuggle them in. */
const ESCAPE_KEYS: ReadonlySet<string> = new Set(['__entity', '__extn', '__expr']);
const MAX_DEPTH = 32;
/** In a `u` regex a surrogate pair is one code point, so this matches only lone surrogates. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Validates a request and converts it for Cedar. Agent-supplied values
 * (params, declared fields) that Cedar cannot hold faithfully throw
 * INVALID_ARGUMENT naming the field; a malformed broker-supplied part throws
 * MalformedRequestError.
 */
export function toCedarInput(req: DecisionRequest): CedarInput {
  if (req === null || typeof req !== 'object') throw new MalformedRequestError('request is not an object');
  const { agent, action, resource, context } = req;
  if (!agent || !nonEmptyString(agent.name)) throw new MalformedRequestError('agent.name must be a non-empty string');
  if (!Array.isArray(agent.groups) || !agent.groups.every(nonEmptyString)) {
    throw new MalformedRequestError('agent.groups must be an array of non-empty strings');
  }
  if (!nonEmptyString(action)) throw new MalformedRequestError('action must be a non-empty string');
  if (typeof resource !== 'string') throw new MalformedRequestError('resource must be a string');
  if (!isPlainObject(context)) throw new MalformedRequestError('context must be an object');
  if (!isTrustScore(context.trust)) throw new MalformedRequestError('context.trust must be an integer 0..1000');
  if (!isTier(context.tier)) throw new MalformedRequestError('context.tier is not a known tier');
  if (context.trust_fresh !== undefined && typeof context.trust_fresh !== 'boolean') throw new MalformedRequestError('context.trust_fresh must be a boolean');
  if (!isPlainObject(context.params)) throw new MalformedRequestError('context.params must be an object');

  const scan = { wellFormed: true };
  const cedarContext: Context = { trust: context.trust, tier: context.tier };
  for (const [key, value] of Object.entries(context)) {
    if (key === 'trust' || key === 'tier' || DROPPED_KEYS.has(key) || value === undefined) continue;
    if (scan.wellFormed && LONE_SURROGATE.test(key)) scan.wellFormed = false;
    cedarContext[key] = toCedarValue(value, `context.${key}`, 0, scan);
  }

  const groups = agent.groups.length === 1 ? [agent.groups[0]] : [...new Set(agent.groups)].sort();
  const wellFormed = scan.wellFormed && ![agent.name, action, resource, ...groups].some((s) => LONE_SURROGATE.test(s));
  return {
    principal: { type: PRINCIPAL_TYPE, id: agent.name },
    action: { type: ACTION_TYPE, id: action },
    resource: { type: RESOURCE_TYPE, id: resource },
    context: cedarContext,
    groups,
    wellFormed,
  };
}

/** The entities Cedar needs for a request: the principal with its groups, the action and the resource, none with attributes. */
export function cedarEntities(input: CedarInput): Entities {
  const groupUids = input.groups.map((id) => ({ type: GROUP_TYPE, id }));
  return [
    { uid: input.principal, attrs: {}, parents: groupUids },
    ...groupUids.map((uid) => ({ uid, attrs: {}, parents: [] })),
    { uid: input.action, attrs: {}, parents: [] },
    { uid: input.resource, attrs: {}, parents: [] },
  ];
}

function toCedarValue(value: unknown, path: string, depth: number, scan: { wellFormed: boolean }): Context[string] {
  if (depth > MAX_DEPTH) throw invalidArgument(path, `is nested more than ${MAX_DEPTH} levels deep`);
  switch (typeof value) {
    case 'string':
      if (scan.wellFormed && LONE_SURROGATE.test(value)) scan.wellFormed = false;
      return value;
    case 'boolean':
      return value;
    case 'number':
      // Cedar has only 64-bit integers; amounts are integer cents.
      if (Number.isSafeInteger(value)) return value;
      if (Number.isInteger(value)) throw invalidArgument(path, 'must be an integer within ±9007199254740991');
      throw invalidArgument(path, `must be an integer, got ${Number.isFinite(value) ? 'a fractional number' : String(value)}`);
    case 'object': {
      if (value === null) throw invalidArgument(path, 'must not be null');
      if (Array.isArray(value)) return value.map((v, i) => toCedarValue(v, `${path}[${i}]`, depth + 1, scan));
      if (!isPlainObject(value)) throw invalidArgument(path, 'must be a JSON value');
      const out: Record<string, Context[string]> = {};
      for (const [k, v] of Object.entries(value)) {
        if (ESCAPE_KEYS.has(k)) throw invalidArgument(`${path}.${k}`, 'is a reserved key');
        if (scan.wellFormed && LONE_SURROGATE.test(k)) scan.wellFormed = false;
        if (v !== undefined) out[k] = toCedarValue(v, `${path}.${k}`, depth + 1, scan);
      }
      return out;
    }
    default:
      throw invalidArgument(path, 'must be a JSON value');
  }
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
