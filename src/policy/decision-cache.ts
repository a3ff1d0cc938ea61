import canonicalize from 'canonicalize';
import type { CedarInput } from './decision-request';

export interface DecisionCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  stats(): { size: number; hits: number; misses: number };
}

/**
 * A bounded LRU over a Map (which iterates in insertion order: re-inserting on
 * a hit moves an entry to the young end). One per engine, so a policy reload
 * starts cold and a test never sees another test's entries.
 */
export function createDecisionCache<V>(maxEntries: number): DecisionCache<V> {
  const entries = new Map<string, V>();
  let hits = 0;
  let misses = 0;
  return {
    get(key) {
      const v = entries.get(key);
      if (v === undefined) {
        misses++;
        return undefined;
      }
      hits++;
      entries.delete(key);
      entries.set(key, v);
      return v;
    },
    set(key, value) {
      if (maxEntries <= 0) return;
      entries.delete(key);
      entries.set(key, value);
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    stats: () => ({ size: entries.size, hits, misses }),
  };
}

/**
 * Exactly the inputs a decision is a pure function of (DESIGN, "Getting
 * explanations right"): policy-set version, principal and its groups, action,
 * resource and the canonical (RFC 8785) context.
 */
export function decisionCacheKey(version: string, input: CedarInput): string {
  const { principal, groups, action, resource, context } = input;
  return JSON.stringify([version, principal.id, groups, action.id, resource.id, canonicalize(context)]);
}
