import type { TrustStore } from '../store/store';
import { DEFAULT_INITIAL_TRUST_SCORE, tierFor } from '../trust';
import type { TrustReader } from '../trust/trust-service';

/** An agent's trust at decision time, and where the decision step reads it: the trust service's own types. */
export type { TrustReader, TrustView } from '../trust/trust-service';

/**
 * Trust as stored (the score; the tier from the default thresholds), never
 * fresh: for a LeaseService built without the trust service (unit tests); the
 * daemon always passes the TrustService.
 */
export function storedTrust(store: Pick<TrustStore, 'getTrust'>): TrustReader {
  return {
    current: async (agent) => {
      const rec = await store.getTrust(agent);
      const score = rec?.score ?? DEFAULT_INITIAL_TRUST_SCORE;
      return { score, tier: tierFor(score), fresh: false, ...(rec ? { readFrom: { score: rec.score, updatedAt: rec.updatedAt } } : {}) };
    },
  };
}
