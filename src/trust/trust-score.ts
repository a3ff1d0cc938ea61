import { invalidArgument } from '../lib/errors';

/** Trust scores are integers on a closed 0..1000 scale. */
export const MIN_TRUST_SCORE = 0;
export const MAX_TRUST_SCORE = 1000;

/**
 * An agent nobody has scored yet starts at 600: inside `standard` (500..799),
 * so a new agent can do ordinary work, but 200 points from `trusted` and 100
 * points of bad signals away from `restricted`. Starting it at `trusted` would
 * hand full authority to an unproven workload; starting it lower would make
 * every fresh deployment need an operator's SetTrust first.
 */
export const DEFAULT_INITIAL_TRUST_SCORE = 600;

export function clampTrustScore(value: number): number {
  return Math.min(MAX_TRUST_SCORE, Math.max(MIN_TRUST_SCORE, value));
}

export function isTrustScore(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= MIN_TRUST_SCORE && (value as number) <= MAX_TRUST_SCORE;
}

/** Validates an operator-supplied score (SetTrust); throws INVALID_ARGUMENT naming `field`. */
export function parseTrustScore(value: unknown, field = 'score'): number {
  if (!isTrustScore(value)) {
    throw invalidArgument(field, `must be an integer from ${MIN_TRUST_SCORE} to ${MAX_TRUST_SCORE}`);
  }
  return value;
}
