import { DEFAULT_INITIAL_TRUST_SCORE, MAX_TRUST_SCORE } from '../trust/trust-score';
import {
  BROKER_SIGNAL_KINDS,
  BROKER_SIGNAL_PREFIX,
  DEFAULT_SIGNAL_KINDS,
  SIGNAL_KIND_NAME,
  type SignalKindConfig,
} from '../trust/trust-signals';
import { compileTierThresholds, DEFAULT_TIER_THRESHOLDS, type TierThresholds } from '../trust/trust-tiers';
import type { AgentTrustConfig, TrustConfig } from './config-types';
import { duration } from './duration';
import { describe, isObj, join, Section } from './problems';

export const DEFAULT_FRESH_WITHIN_MS = 24 * 3_600_000;
export const DEFAULT_DENIAL_BURST = Object.freeze({ count: 10, withinMs: 60_000 });

/** Marks a broker kind turned off (`weight: 0`); it is left out of the compiled kinds. */
const OFF: SignalKindConfig = Object.freeze({ weight: 0 });

/** `thresholds:` merged over `base`, checked (every threshold 1..1000, trusted > standard > restricted). */
function thresholds(s: Section | undefined, base: TierThresholds): TierThresholds {
  if (!s) return base;
  const partial: Partial<Record<keyof TierThresholds, number>> = {};
  for (const name of ['trusted', 'standard', 'restricted'] as const) {
    const v = s.int(name, { required: false, min: 1, max: MAX_TRUST_SCORE });
    if (v !== undefined) partial[name] = v;
  }
  s.done();
  try {
    return compileTierThresholds({ ...base, ...partial });
  } catch (err) {
    s.problems.add(s.path, (err as Error).message.replace(/^trust thresholds: /, ''));
    return base;
  }
}

/** One `signals.<kind>`: `{ weight }`, and for broker.denial_burst also `count` and `within`. */
function signalKind(kind: string, s: Section, burst: { count: number; withinMs: number }): SignalKindConfig | undefined {
  const weight = s.int('weight', { min: -MAX_TRUST_SCORE, max: MAX_TRUST_SCORE });
  if (kind === 'broker.denial_burst') {
    burst.count = s.int('count', { min: 2, max: 100_000, fallback: DEFAULT_DENIAL_BURST.count })!;
    burst.withinMs = duration(s, 'within', DEFAULT_DENIAL_BURST.withinMs)!;
  }
  if (weight === undefined) return undefined;
  // A broker kind with weight 0 is off: the broker never raises it.
  if (weight === 0 && kind.startsWith(BROKER_SIGNAL_PREFIX)) return OFF;
  if (weight === 0) {
    s.problems.add(s.at('weight'), 'must not be 0: its sign is the direction of the kind (negative lowers trust, positive raises it); only a broker.* kind can be turned off with 0');
    return undefined;
  }
  if (kind.startsWith(BROKER_SIGNAL_PREFIX) && weight > 0) {
    s.problems.add(s.at('weight'), `must be negative: ${kind} reports misbehaviour`);
    return undefined;
  }
  return Object.freeze({ weight });
}

/** The `trust:` section; every problem is reported under its path. */
export function trustSection(s: Section | undefined): TrustConfig {
  const burst = { ...DEFAULT_DENIAL_BURST };
  const signals: Record<string, SignalKindConfig> = { ...DEFAULT_SIGNAL_KINDS, ...BROKER_SIGNAL_KINDS };
  if (!s) {
    return { initial: DEFAULT_INITIAL_TRUST_SCORE, thresholds: DEFAULT_TIER_THRESHOLDS, freshWithinMs: DEFAULT_FRESH_WITHIN_MS, signals, denialBurst: burst };
  }
  const initial = s.int('initial', { min: 0, max: MAX_TRUST_SCORE, fallback: DEFAULT_INITIAL_TRUST_SCORE })!;
  const th = thresholds(s.section('thresholds', false), DEFAULT_TIER_THRESHOLDS);
  let decay: TrustConfig['decay'];
  const ds = s.section('decay', false);
  if (ds) {
    const toward = ds.int('toward', { required: false, min: 0, max: MAX_TRUST_SCORE });
    const perMs = duration(ds, 'per');
    const points = ds.int('points', { min: 1, max: MAX_TRUST_SCORE });
    ds.done();
    if (perMs !== undefined && points !== undefined) decay = { ...(toward !== undefined ? { toward } : {}), perMs, points };
  }
  const freshWithinMs = duration(s, 'fresh_within', DEFAULT_FRESH_WITHIN_MS)!;
  const raw = s.value('signals');
  if (raw !== undefined && raw !== null) {
    if (!isObj(raw)) s.problems.add(s.at('signals'), `expected a mapping of signal kinds, got ${describe(raw)}`);
    else {
      for (const [kind, body] of Object.entries(raw)) {
        const p = join(s.at('signals'), kind);
        if (!SIGNAL_KIND_NAME.test(kind) || kind.length > 64) {
          s.problems.add(p, 'the kind must be dot-separated lower-case words such as eval.failed (at most 64)');
          continue;
        }
        if (kind.startsWith(BROKER_SIGNAL_PREFIX) && !(kind in BROKER_SIGNAL_KINDS)) {
          s.problems.add(p, `is not a signal the broker raises (${Object.keys(BROKER_SIGNAL_KINDS).join(', ')}); the "broker." prefix is reserved`);
          continue;
        }
        const ks = Section.of(p, body, s.problems);
        if (!ks) continue;
        const k = signalKind(kind, ks, burst);
        ks.done();
        if (k === OFF) delete signals[kind];
        else if (k) signals[kind] = k;
      }
    }
  }
  s.done();
  return { initial, thresholds: th, ...(decay ? { decay } : {}), freshWithinMs, signals, denialBurst: burst };
}

/** `agents.<a>.trust`: `{ initial?, thresholds? }`, thresholds merged over the `trust:` ones. */
export function agentTrustSection(s: Section | undefined, base: TierThresholds): AgentTrustConfig | undefined {
  if (!s) return undefined;
  const initial = s.int('initial', { required: false, min: 0, max: MAX_TRUST_SCORE });
  const ts = s.section('thresholds', false);
  const th = ts ? thresholds(ts, base) : undefined;
  s.done();
  return { ...(initial !== undefined ? { initial } : {}), ...(th ? { thresholds: th } : {}) };
}
