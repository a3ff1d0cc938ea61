import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { BrokerError } from '../../../src/lib/errors';
import { applySignal, parseTrustSignal, SignalKind } from '../../../src/trust/trust-signals';
import { clampTrustScore, parseTrustScore } from '../../../src/trust/trust-score';

const invalid = (field: string) => (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument' && e.message.startsWith(`${field}:`);

describe('trust signals', () => {
  it('adds the signed weight', () => {
    assert.equal(applySignal(600, { kind: 'anomaly', weight: -150 }), 450);
    assert.equal(applySignal(600, { kind: 'policy_violation', weight: -300 }), 300);
    assert.equal(applySignal(600, { kind: 'good_behavior', weight: 25 }), 625);
    assert.equal(applySignal(600, { kind: 'good_behavior', weight: 0 }), 600);
  });

  it('clamps to 0..1000', () => {
    assert.equal(applySignal(100, { kind: 'anomaly', weight: -500 }), 0);
    assert.equal(applySignal(0, { kind: 'policy_violation', weight: -1 }), 0);
    assert.equal(applySignal(990, { kind: 'good_behavior', weight: 50 }), 1000);
    assert.equal(applySignal(1000, { kind: 'good_behavior', weight: 1000 }), 1000);
    assert.equal(clampTrustScore(-5), 0);
    assert.equal(clampTrustScore(1005), 1000);
  });

  it('rejects a weight whose sign contradicts its kind, a fractional weight and an unknown kind', () => {
    assert.throws(() => applySignal(500, { kind: 'anomaly', weight: 10 }), invalid('weight'));
    assert.throws(() => applySignal(500, { kind: 'good_behavior', weight: -10 }), invalid('weight'));
    assert.throws(() => applySignal(500, { kind: 'anomaly', weight: -1.5 }), invalid('weight'));
    assert.throws(() => applySignal(500, { kind: 'anomaly', weight: -1001 }), invalid('weight'));
    assert.throws(() => parseTrustSignal({ kind: 'vibes', weight: 1 }), invalid('kind'));
    assert.deepEqual(parseTrustSignal({ kind: 'anomaly', weight: -3 }), { kind: 'anomaly', weight: -3 });
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
      fc.record({ kind: fc.constantFrom<SignalKind>('anomaly', 'policy_violation'), weight: fc.integer({ min: -1000, max: 0 }) }),
      fc.record({ kind: fc.constant<SignalKind>('good_behavior'), weight: fc.integer({ min: 0, max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), signal, (score, s) => {
        const next = applySignal(score, s);
        return Number.isInteger(next) && next >= 0 && next <= 1000 && (s.weight <= 0 ? next <= score : next >= score);
      }),
    );
  });
});
