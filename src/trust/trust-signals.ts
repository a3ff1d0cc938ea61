import { BrokerError, invalidArgument } from '../lib/errors';
import { clampTrustScore, isTrustScore, MAX_TRUST_SCORE } from './trust-score';

/**
 * Each kind fixes the direction of its weight, so a mistyped sign cannot turn
 * an anomaly report into a trust boost.
 */
export const SIGNAL_KINDS = {
  anomaly: 'lowers',
  policy_violation: 'lowers',
  good_behavior: 'raises',
} as const;

export type SignalKind = keyof typeof SIGNAL_KINDS;

export interface TrustSignal {
  readonly kind: SignalKind;
  /** Signed integer added to the score: <= 0 for anomaly/policy_violation, >= 0 for good_behavior. */
  readonly weight: number;
}

export function isSignalKind(value: unknown): value is SignalKind {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SIGNAL_KINDS, value);
}

/** Validates a ReportSignal's kind and weight; throws INVALID_ARGUMENT naming the field. */
export function parseTrustSignal(input: { kind: unknown; weight: unknown }): TrustSignal {
  const { kind, weight } = input;
  if (!isSignalKind(kind)) {
    throw invalidArgument('kind', `must be one of ${Object.keys(SIGNAL_KINDS).join(', ')}`);
  }
  if (!Number.isSafeInteger(weight) || Math.abs(weight as number) > MAX_TRUST_SCORE) {
    throw invalidArgument('weight', `must be an integer from -${MAX_TRUST_SCORE} to ${MAX_TRUST_SCORE}`);
  }
  const w = weight as number;
  if (SIGNAL_KINDS[kind] === 'lowers' && w > 0) throw invalidArgument('weight', `must be <= 0 for ${kind}`);
  if (SIGNAL_KINDS[kind] === 'raises' && w < 0) throw invalidArgument('weight', `must be >= 0 for ${kind}`);
  return { kind, weight: w };
}

/** The score after one signal, clamped to 0..1000. Pure; storing it is the caller's job. */
export function applySignal(score: number, signal: TrustSignal): number {
  if (!isTrustScore(score)) {
    // A corrupt stored score is our bug, not the caller's request.
    throw new BrokerError('internal', 'stored trust score is out of range');
  }
  const checked = parseTrustSignal(signal);
  return clampTrustScore(score + checked.weight);
}
