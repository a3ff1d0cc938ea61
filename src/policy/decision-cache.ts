import canonicalize from 'canonicalize';
import type { CedarInput } from './decision-request';
import { DecisionInputs, FULL_INPUTS } from './decision-inputs';

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
 * The inputs a decision is a pure function of (DESIGN, "Getting explanations
 * right"), narrowed to those the policy set can observe (see
 * decision-inputs.ts): policy-set version, principal, its groups and action
 * always; the resource only if some policy can observe it; of the context,
 * `trust`, `tier`, the attributes policies read and the names of all
 * attributes present, or the whole canonical (RFC 8785) context if some
 * policy uses it as a whole. With FULL_INPUTS this is every input.
 */
export function decisionCacheKey(version: string, input: CedarInput, inputs: DecisionInputs = FULL_INPUTS): string {
  const { principal, groups, action, resource, context } = input;
  const r = inputs.resource ? resource.id : null;
  if (inputs.context === 'all') return JSON.stringify([version, principal.id, groups, action.id, r, canonicalize(context)]);
  const read = inputs.context.map((k) => (Object.prototype.hasOwnProperty.call(context, k) ? [context[k]] : []));
  return JSON.stringify([version, principal.id, groups, action.id, r, canonicalize([Object.keys(context).sort(), read])]);
}
