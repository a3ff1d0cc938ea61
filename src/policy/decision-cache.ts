import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { CedarInput } from './decision-request';
import { DecisionInputs, FULL_INPUTS } from './decision-inputs';

export interface DecisionCacheStats {
  size: number;
  /** What the entries are accounted at (keys, values and per-entry overhead); never above maxBytes. */
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
}

export interface DecisionCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  stats(): DecisionCacheStats;
}

export interface DecisionCacheLimits {
  /** At most this many entries. */
  readonly maxEntries: number;
  /** At most this many accounted bytes; 0 turns the cache off. */
  readonly maxBytes: number;
  /** What one value costs in bytes, estimated from above (it is called once, when the value is stored). */
  readonly sizeOf: (value: unknown) => number;
}

/** A Map entry, its key string and the record holding the value and its size, in V8 (measured, rounded up). */
export const ENTRY_OVERHEAD_BYTES = 256;

/**
 * A bounded LRU over a Map (which iterates in insertion order: re-inserting on
 * a hit moves an entry to the young end), bounded both in entries and in
 * bytes. One per engine, so a policy reload starts cold and a test never sees
 * another test's entries.
 */
export function createDecisionCache<V>(limits: DecisionCacheLimits): DecisionCache<V> {
  const entries = new Map<string, { value: V; bytes: number }>();
  let bytes = 0;
  let hits = 0;
  let misses = 0;
  const drop = (key: string): void => {
    const e = entries.get(key);
    if (e === undefined) return;
    entries.delete(key);
    bytes -= e.bytes;
  };
  return {
    get(key) {
      const e = entries.get(key);
      if (e === undefined) {
        misses++;
        return undefined;
      }
      hits++;
      entries.delete(key);
      entries.set(key, e);
      return e.value;
    },
    set(key, value) {
      if (limits.maxEntries <= 0 || limits.maxBytes <= 0) return;
      const size = ENTRY_OVERHEAD_BYTES + 2 * key.length + limits.sizeOf(value);
      drop(key);
      // An entry larger than the whole cache is not kept (it would evict everything for nothing).
      if (size > limits.maxBytes) return;
      entries.set(key, { value, bytes: size });
      bytes += size;
      while (entries.size > limits.maxEntries || bytes > limits.maxBytes) drop(entries.keys().next().value as string);
    },
    stats: () => ({ size: entries.size, bytes, maxBytes: limits.maxBytes, hits, misses }),
  };
}

/**
 * The inputs a decision is a pure function of (DESIGN, "Getting explanations
 * right"), narrowed to those the policy set can observe (see
 * decision-inputs.ts): policy-set version, principal, its groups and action
 * always; the resource only if some policy can observe it; of the context,
 * `trust`, `tier`, `trust_fresh`, the attributes policies read and the names of all
 * attributes present, or the whole canonical (RFC 8785) context if some
 * policy uses it as a whole. With FULL_INPUTS this is every input.
 *
 * The key is the SHA-256 (base64, 44 characters) of that canonical text, so
 * an entry costs the same whatever the agent sent: params a policy reads are
 * hashed, not held.
 */
export function decisionCacheKey(version: string, input: CedarInput, inputs: DecisionInputs = FULL_INPUTS): string {
  return createHash('sha256').update(decisionInputsText(version, input, inputs)).digest('base64');
}

/** The canonical text of the inputs a decision depends on (what decisionCacheKey hashes). */
export function decisionInputsText(version: string, input: CedarInput, inputs: DecisionInputs = FULL_INPUTS): string {
  const { principal, groups, action, resource, context } = input;
  const r = inputs.resource ? resource.id : null;
  if (inputs.context === 'all') return JSON.stringify([version, principal.id, groups, action.id, r, canonicalize(context)]);
  const read = inputs.context.map((k) => (Object.prototype.hasOwnProperty.call(context, k) ? [context[k]] : []));
  return JSON.stringify([version, principal.id, groups, action.id, r, canonicalize([Object.keys(context).sort(), read])]);
}
