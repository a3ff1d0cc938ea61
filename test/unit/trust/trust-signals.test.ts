import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { BrokerError } from '../../../src/lib/errors';
import { applySignal, BROKER_SIGNAL_KINDS, DEFAULT_SIGNAL_KINDS, parseTrustSignal, type SignalKinds } from '../../../src/trust/trust-signals';
import { clampTrustScore, parseTrustScore } from '../../../src/trust/trust-score';

const invalid = (field: string) => (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument' && e.message.startsWith(`${field}:`);

const KINDS: SignalKinds = { ...DEFAULT_SIGNAL_KINDS, ...BROKER_SIGNAL_KINDS, 'eval.failed': { weight: -150 }, 'eval.passed': { weight: 50 } };

describe('trust signals', () => {
  it('adds the signed weight', () => {
    assert.equal(applySignal(600, { kind: 'anomaly', weight: -150 }), 450);
    assert.equal(applySignal(600, { kind: 'policy_violation', weight: -300 }), 300);
    assert.equal(applySignal(600, { kind: 'good_behavior', weight: 25 }), 625);
  });

  it('clamps to 0..1000', () => {
    assert.equal(applySignal(100, { kind: 'anomaly', weight: -500 }), 0);
    assert.equal(applySignal(0, { kind: 'policy_violation', weight: -1 }), 0);
    assert.equal(applySignal(990, { kind: 'good_behavior', weight: 50 }), 1000);
    assert.equal(clampTrustScore(-5), 0);
    assert.equal(clampTrustScore(1005), 1000);
  });

  it('a configured kind fixes the sign and bounds the magnitude; no weight means the whole weight', () => {
    assert.deepEqual(parseTrustSignal(KINDS, { kind: 'eval.failed' }), { kind: 'eval.failed', weight: -150 });
    assert.deepEqual(parseTrustSignal(KINDS, { kind: 'eval.failed', weight: 0 }), { kind: 'eval.failed', weight: -150 });
    assert.deepEqual(parseTrustSignal(KINDS, { kind: 'eval.failed', weight: -40 }), { kind: 'eval.failed', weight: -40 });
    assert.deepEqual(parseTrustSignal(KINDS, { kind: 'eval.passed', weight: 50 }), { kind: 'eval.passed', weight: 50 });
    assert.throws(() => parseTrustSignal(KINDS, { kind: 'eval.failed', weight: 10 }), invalid('weight'));
    assert.throws(() => parseTrustSignal(KINDS, { kind: 'eval.passed', weight: -10 }), invalid('weight'));
    assert.throws(() => parseTrustSignal(KINDS, { kind: 'eval.failed', weight: -151 }), invalid('weight'));
    assert.throws(() => parseTrustSignal(KINDS, { kind: 'eval.passed', weight: 51 }), invalid('weight'));
    assert.throws(() => parseTrustSignal(KINDS, { kind: 'eval.failed', weight: -1.5 }), invalid('weight'));
    assert.throws(() => parseTrustSignal(KINDS, { kind: 'vibes', weight: 1 }), invalid('kind'));
    assert.throws(() => parseTrustSignal(KINDS, { kind: '' }), invalid('kind'));
    // The three old kinds stay as defaults.
    assert.deepEqual(parseTrustSignal(KINDS, { kind: 'anomaly', weight: -3 }), { kind: 'anomaly', weight: -3 });
  });

  it('only the broker raises broker.* kinds', () => {
    assert.throws(() => parseTrustSignal(KINDS, { kind: 'broker.denial_burst' }), invalid('kind'));
    assert.deepEqual(parseTrustSignal(KINDS, { kind: 'broker.denial_burst' }, { fromBroker: true }), { kind: 'broker.denial_burst', weight: -50 });
  });

  it('refuses a stored score that is out of range (our bug, not the caller\'s)', () => {
    assert.throws(() => applySignal(1001, { kind: 'anomaly', weight: -1 }), (e: unknown) => e instanceof BrokerError && e.kind === 'internal');
  });

  it('validates an operator-set score', () => {
    assert.equal(parseTrustScore(0), 0);
    assert.equal(parseTrustScore(1000), 1000);
    for (const bad of [-1, 1001, 5.5, '700', null]) assert.throws(() => parseTrustScore(bad), invalid('score'));
  });

  it('always lands in 0..1000 and moves in the kind\'s direction (property)', () => {
    const signal = fc.oneof(
      fc.record({ kind: fc.constant('eval.failed'), weight: fc.integer({ min: -150, max: 0 }) }),
      fc.record({ kind: fc.constant('eval.passed'), weight: fc.integer({ min: 0, max: 50 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), signal, (score, raw) => {
        const s = parseTrustSignal(KINDS, raw);
        const next = applySignal(score, s);
        return Number.isInteger(next) && next >= 0 && next <= 1000 && (s.weight <= 0 ? next <= score : next >= score);
      }),
    );
  });
});
