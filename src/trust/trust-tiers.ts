import { BrokerError } from '../lib/errors';
import { MAX_TRUST_SCORE, MIN_TRUST_SCORE } from './trust-score';

export const TIERS = ['trusted', 'standard', 'restricted', 'quarantined'] as const;
export type Tier = (typeof TIERS)[number];

/** Lowest score of each tier; anything below `restricted` is `quarantined`. */
export interface TierThresholds {
  readonly trusted: number;
  readonly standard: number;
  readonly restricted: number;
}

export const DEFAULT_TIER_THRESHOLDS: TierThresholds = Object.freeze({ trusted: 800, standard: 500, restricted: 200 });

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}

/**
 * Fills defaults and checks the thresholds once, reporting every problem:
 * each is an integer in 1..1000 and trusted > standard > restricted, so every
 * tier is reachable and `quarantined` always has room below.
 */
export function compileTierThresholds(input: Partial<TierThresholds> = {}): TierThresholds {
  const merged = { ...DEFAULT_TIER_THRESHOLDS, ...input };
  const problems: string[] = [];
  for (const name of ['trusted', 'standard', 'restricted'] as const) {
    const v = merged[name];
    if (!Number.isSafeInteger(v) || v <= MIN_TRUST_SCORE || v > MAX_TRUST_SCORE) {
      problems.push(`${name}: must be an integer from ${MIN_TRUST_SCORE + 1} to ${MAX_TRUST_SCORE}`);
    }
  }
  if (problems.length === 0) {
    if (merged.trusted <= merged.standard) problems.push(`trusted (${merged.trusted}) must be above standard (${merged.standard})`);
    if (merged.standard <= merged.restricted) problems.push(`standard (${merged.standard}) must be above restricted (${merged.restricted})`);
  }
  if (problems.length > 0) {
    throw new BrokerError('invalid_argument', `trust thresholds: ${problems.join('; ')}`);
  }
  return Object.freeze({ trusted: merged.trusted, standard: merged.standard, restricted: merged.restricted });
}

export function tierFor(score: number, thresholds: TierThresholds = DEFAULT_TIER_THRESHOLDS): Tier {
  // A NaN score fails every comparison and lands in quarantined: fail closed.
  if (score >= thresholds.trusted) return 'trusted';
  if (score >= thresholds.standard) return 'standard';
  if (score >= thresholds.restricted) return 'restricted';
  return 'quarantined';
}
