import type { TrustStore } from '../store/store';
import { DEFAULT_INITIAL_TRUST_SCORE, tierFor, type Tier } from '../trust';

/**
 * An agent's trust at decision time. `fresh`: the score was confirmed by a
 * signal or a set within trust.fresh_within (policy's context.trust_fresh).
 */
export interface TrustView {
  score: number;
  tier: Tier;
  fresh: boolean;
}

/** Where the decision step reads trust (the trust service; decay applied lazily). */
export interface TrustReader {
  current(agent: string): Promise<TrustView>;
}

/**
 * Trust as stored (the score; the tier from the default thresholds), never
 * fresh: what the broker had before the trust service.
 */
export function storedTrust(store: Pick<TrustStore, 'getTrust'>): TrustReader {
  return {
    current: async (agent) => {
      const score = (await store.getTrust(agent))?.score ?? DEFAULT_INITIAL_TRUST_SCORE;
      return { score, tier: tierFor(score), fresh: false };
    },
  };
}
