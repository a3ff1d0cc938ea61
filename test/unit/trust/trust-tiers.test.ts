import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { BrokerError } from '../../../src/lib/errors';
import { compileTierThresholds, DEFAULT_TIER_THRESHOLDS, TIERS, tierFor } from '../../../src/trust/trust-tiers';
import { DEFAULT_INITIAL_TRUST_SCORE } from '../../../src/trust/trust-score';

describe('trust tiers', () => {
  const boundaries: [number, string][] = [
    [0, 'quarantined'],
    [199, 'quarantined'],
    [200, 'restricted'],
    [499, 'restricted'],
    [500, 'standard'],
    [799, 'standard'],
    [800, 'trusted'],
    [1000, 'trusted'],
  ];
  for (const [score, tier] of boundaries) {
    it(`${score} is ${tier}`, () => assert.equal(tierFor(score), tier));
  }

  it('the default initial score is standard', () => {
    assert.equal(DEFAULT_INITIAL_TRUST_SCORE, 600);
    assert.equal(tierFor(DEFAULT_INITIAL_TRUST_SCORE), 'standard');
  });

  it('a NaN score is quarantined (fail closed)', () => assert.equal(tierFor(Number.NaN), 'quarantined'));

  it('custom thresholds move the boundaries', () => {
    const t = compileTierThresholds({ trusted: 900, restricted: 100 });
    assert.deepEqual(t, { trusted: 900, standard: 500, restricted: 100 });
    assert.ok(Object.isFrozen(t));
    assert.equal(tierFor(899, t), 'standard');
    assert.equal(tierFor(900, t), 'trusted');
    assert.equal(tierFor(100, t), 'restricted');
    assert.equal(tierFor(99, t), 'quarantined');
  });

  it('rejects thresholds out of order or out of range, reporting every problem', () => {
    assert.throws(() => compileTierThresholds({ trusted: 400 }), (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument' && /trusted \(400\) must be above standard \(500\)/.test(e.message));
    assert.throws(() => compileTierThresholds({ standard: 100, restricted: 100 }), /standard \(100\) must be above restricted \(100\)/);
    assert.throws(() => compileTierThresholds({ trusted: 1001, restricted: 0.5 }), (e: unknown) => e instanceof BrokerError && /trusted: .*; restricted: /.test(e.message));
  });

  it('tiers are monotonic in the score (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (a, b) => {
        const rank = (s: number) => TIERS.length - TIERS.indexOf(tierFor(s));
        return a <= b ? rank(a) <= rank(b) : rank(a) >= rank(b);
      }),
    );
    assert.deepEqual(DEFAULT_TIER_THRESHOLDS, { trusted: 800, standard: 500, restricted: 200 });
  });
});
