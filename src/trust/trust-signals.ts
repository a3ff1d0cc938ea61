import { BrokerError, invalidArgument } from '../lib/errors';
import { clampTrustScore, isTrustScore, MAX_TRUST_SCORE } from './trust-score';

/**
 * A signal kind, as configured under `trust.signals`: the sign of `weight`
 * fixes the kind's direction (so a mistyped sign cannot turn an anomaly
 * report into a trust boost) and its magnitude bounds what one report may
 * give. A report that names no weight gives the whole `weight`.
 */
export interface SignalKindConfig {
  /** Signed, non-zero, within ±1000. */
  readonly weight: number;
}

export type SignalKinds = Readonly<Record<string, SignalKindConfig>>;

/** Kinds every broker knows unless the config overrides their weight. */
export const DEFAULT_SIGNAL_KINDS: SignalKinds = Object.freeze({
  anomaly: Object.freeze({ weight: -100 }),
  policy_violation: Object.freeze({ weight: -200 }),
  good_behavior: Object.freeze({ weight: 50 }),
});

/** Kinds the broker raises itself (never an operator): their names start with this. */
export const BROKER_SIGNAL_PREFIX = 'broker.';

/** The broker's own kinds, with their default weights (configurable, always negative). */
export const BROKER_SIGNAL_KINDS: SignalKinds = Object.freeze({
  /** `count` denials of one agent within `within` (trust.signals."broker.denial_burst"). */
  'broker.denial_burst': Object.freeze({ weight: -50 }),
  /** A brokered call outside what its action's template or its lease allows. */
  'broker.outside_template': Object.freeze({ weight: -25 }),
  /** An upstream answered with the injected secret in it (the scrubber removed it). */
  'broker.secret_echo': Object.freeze({ weight: -100 }),
  /** A lease's credential was used against the broker's own upstream work (a PostgreSQL lease role took its role-DDL lock). */
  'broker.credential_misuse': Object.freeze({ weight: -100 }),
});

export type BrokerSignalKind = keyof typeof BROKER_SIGNAL_KINDS & string;

/** Kind names: dot-separated lower-case words, such as `eval.failed`. */
export const SIGNAL_KIND_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

export interface TrustSignal {
  readonly kind: string;
  /** Signed integer added to the score, of the kind's sign and at most its magnitude. */
  readonly weight: number;
}

/**
 * Validates a signal against the configured kinds; throws INVALID_ARGUMENT
 * naming the field. A weight of 0 or none means the kind's configured weight.
 * Only the broker (`fromBroker`) may raise `broker.*` kinds.
 */
export function parseTrustSignal(kinds: SignalKinds, input: { kind: unknown; weight?: unknown }, opts: { fromBroker?: boolean } = {}): TrustSignal {
  const { kind, weight } = input;
  const names = Object.keys(kinds).filter((k) => opts.fromBroker || !k.startsWith(BROKER_SIGNAL_PREFIX));
  if (typeof kind !== 'string' || kind === '') throw invalidArgument('kind', `required: one of ${names.join(', ')}`);
  if (!Object.prototype.hasOwnProperty.call(kinds, kind)) {
    throw invalidArgument('kind', `${JSON.stringify(kind.slice(0, 64))} is not a configured signal kind (one of ${names.join(', ')})`);
  }
  if (kind.startsWith(BROKER_SIGNAL_PREFIX) && !opts.fromBroker) throw invalidArgument('kind', `${kind} is raised by the broker itself, not reported`);
  const bound = kinds[kind]!.weight;
  if (weight === undefined || weight === null || weight === 0) return { kind, weight: bound };
  if (!Number.isSafeInteger(weight) || Math.abs(weight as number) > MAX_TRUST_SCORE) {
    throw invalidArgument('weight', `must be an integer from -${MAX_TRUST_SCORE} to ${MAX_TRUST_SCORE}`);
  }
  const w = weight as number;
  if (Math.sign(w) !== Math.sign(bound)) throw invalidArgument('weight', `must be ${bound < 0 ? 'negative' : 'positive'} for ${kind} (it ${bound < 0 ? 'lowers' : 'raises'} trust)`);
  if (Math.abs(w) > Math.abs(bound)) throw invalidArgument('weight', `must be at most ${Math.abs(bound)} in magnitude for ${kind} (its configured weight is ${bound})`);
  return { kind, weight: w };
}

/** The score after one (already validated) signal, clamped to 0..1000. Pure; storing it is the caller's job. */
export function applySignal(score: number, signal: TrustSignal): number {
  if (!isTrustScore(score)) {
    // A corrupt stored score is our bug, not the caller's request.
    throw new BrokerError('internal', 'stored trust score is out of range');
  }
  if (!Number.isSafeInteger(signal.weight)) throw new BrokerError('internal', 'signal weight is not an integer');
  return clampTrustScore(score + signal.weight);
}
