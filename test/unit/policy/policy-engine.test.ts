import { strict as assert } from 'node:assert';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { BrokerError } from '../../../src/lib/errors';
import { defaultCedarApi, CedarApi } from '../../../src/policy/cedar-api';
import { compilePolicySet, createPolicyEngine, DecisionRequest, EVALUATION_FAILED, loadPolicySet, PolicySet } from '../../../src/policy';
import { expectDeny, isDeny } from '../../helpers/expect-denial';

const DEV_POLICIES = resolve(__dirname, '../../../deploy/dev/policies');

function refund(amount: unknown, over: Partial<DecisionRequest['context']> = {}): DecisionRequest {
  return {
    agent: { name: 'support-bot', groups: ['support'] },
    action: 'billing.refund',
    resource: 'stripe',
    context: { trust: 600, tier: 'standard', params: {}, amount, ...over },
  };
}

function ticket(tier: 'trusted' | 'standard' | 'restricted' | 'quarantined', trust: number): DecisionRequest {
  return { agent: { name: 'support-bot', groups: ['support'] }, action: 'tickets.update', resource: 'ticket/T-1', context: { trust, tier, params: {} } };
}

function assertEvaluationFailed(d: ReturnType<ReturnType<typeof createPolicyEngine>['decide']>): void {
  expectDeny(d);
  assert.equal(d.explanation.summary, EVALUATION_FAILED);
  assert.deepEqual(d.obligations, { approvals: [] });
  assert.ok(d.explanation.hint.length > 0);
}

describe('policy engine', () => {
  let dev: PolicySet;
  before(async () => {
    dev = await loadPolicySet(DEV_POLICIES);
  });

  describe('fails closed', () => {
    it('denies when Cedar throws, and reports the cause to onError', () => {
      const causes: unknown[] = [];
      const cedar: CedarApi = {
        ...defaultCedarApi,
        statefulIsAuthorized: () => {
          throw new Error('wasm trap: unreachable');
        },
      };
      const engine = createPolicyEngine(dev, { cedar, onError: (err) => causes.push(err) });
      const d = engine.decide(refund(100));
      assertEvaluationFailed(d);
      assert.equal(d.explanation.trust.score, 600);
      assert.equal(causes.length, 1);
      assert.match(String(causes[0]), /wasm trap/);
    });

    it('denies when Cedar answers with a failure (a real one: the preparsed set is gone)', () => {
      const cedar: CedarApi = {
        ...defaultCedarApi,
        statefulIsAuthorized: (call) => defaultCedarApi.statefulIsAuthorized({ ...call, preparsedPolicySetId: 'never-preparsed' }),
      };
      const causes: unknown[] = [];
      const d = createPolicyEngine(dev, { cedar, onError: (e) => causes.push(e) }).decide(refund(100));
      assertEvaluationFailed(d);
      assert.match(String(causes[0]), /not found/);
    });

    it('denies when only the explanation checks fail, even for a request policy allows with obligations', () => {
      let calls = 0;
      const cedar: CedarApi = {
        ...defaultCedarApi,
        statefulIsAuthorized: (call) => (++calls === 2 ? { type: 'failure', errors: [{ message: 'boom', help: null, code: null, url: null, severity: null }], warnings: [] } : defaultCedarApi.statefulIsAuthorized(call)),
      };
      // 20000 cents: allowed with approval:finance, so the alternatives are explained (second call).
      assertEvaluationFailed(createPolicyEngine(dev, { cedar }).decide(refund(20_000)));
    });

    it('skips the per-conjunct pass on a plain allow and lists only the matching permits', () => {
      let calls = 0;
      const cedar: CedarApi = { ...defaultCedarApi, statefulIsAuthorized: (call) => (calls++, defaultCedarApi.statefulIsAuthorized(call)) };
      const d = createPolicyEngine(dev, { cedar, cacheSize: 0 }).decide(refund(100));
      assert.equal(d.decision, 'allow');
      assert.equal(calls, 1);
      assert.deepEqual(d.explanation.candidates.map((c) => c.id), ['billing-refund-small', 'billing-refund-approved'].filter((id) => d.determining.some((x) => x.id === id)));
      assert.ok(d.explanation.candidates.every((c) => c.failed_conditions.length === 0));
    });

    it('denies when a forbid cannot be evaluated, naming it, although a permit matches', () => {
      const set = compilePolicySet([
        {
          name: 'p.cedar',
          text: `@id("allow-all") permit (principal, action, resource);
                 @id("forbid-big") @reason("no big ones") forbid (principal, action, resource) when { context.size > 10 };`,
        },
      ]);
      const engine = createPolicyEngine(set);
      const req: DecisionRequest = { agent: { name: 'a', groups: [] }, action: 'x', resource: 'r', context: { trust: 600, tier: 'standard', params: {} } };
      const d = engine.decide(req);
      assertEvaluationFailed(d);
      assert.deepEqual(d.explanation.deciding_policies, [{ id: 'forbid-big', reason: 'no big ones' }]);
      assert.equal(engine.decide({ ...req, context: { ...req.context, size: 1 } }).decision, 'allow');
    });

    it('denies on a malformed broker-supplied context (tier, trust, params, agent)', () => {
      const engine = createPolicyEngine(dev);
      const bad: unknown[] = [
        refund(100, { tier: 'superuser' as never }),
        refund(100, { trust: 1001 }),
        refund(100, { trust: 600.5 }),
        refund(100, { params: [] as never }),
        { ...refund(100), agent: { name: '', groups: ['support'] } },
        { ...refund(100), agent: { name: 'support-bot', groups: 'support' } },
        { ...refund(100), action: undefined },
        { ...refund(100), context: null },
        null,
      ];
      for (const req of bad) assertEvaluationFailed(engine.decide(req as DecisionRequest));
    });

    it('still denies when the onError hook itself throws', () => {
      const cedar: CedarApi = { ...defaultCedarApi, statefulIsAuthorized: () => { throw new Error('x'); } };
      const engine = createPolicyEngine(dev, { cedar, onError: () => { throw new Error('logger down'); } });
      assertEvaluationFailed(engine.decide(refund(100)));
    });

    it('never allows when Cedar is broken, whatever the request (property)', () => {
      const cedar: CedarApi = { ...defaultCedarApi, statefulIsAuthorized: () => { throw new Error('broken'); } };
      const engine = createPolicyEngine(dev, { cedar });
      fc.assert(
        fc.property(fc.integer({ min: -1e6, max: 1e6 }), fc.constantFrom('trusted', 'standard', 'restricted', 'quarantined'), (amount, tier) =>
          isDeny(engine.decide(refund(amount, { tier: tier as 'standard' }))),
        ),
        { numRuns: 50 },
      );
    });
  });

  describe('rejects values the agent sent that Cedar cannot hold', () => {
    const cases: [string, DecisionRequest, RegExp][] = [
      ['fractional declared field', refund(12.5), /^context\.amount: must be an integer, got a fractional number$/],
      ['non-finite', refund(Infinity), /^context\.amount: must be an integer, got Infinity$/],
      ['beyond 2^53', refund(2 ** 60), /^context\.amount: must be an integer within/],
      ['null', refund(null), /^context\.amount: must not be null$/],
      ['entity escape in params', refund(1, { params: { g: { __entity: { type: 'Group', id: 'admins' } } } }), /^context\.params\.g\.__entity: is a reserved key$/],
      ['extension escape', refund({ __extn: { fn: 'decimal', arg: '1.5' } }), /^context\.amount\.__extn: is a reserved key$/],
      ['fraction inside a list', refund(1, { params: { xs: [1, 2.5] } }), /^context\.params\.xs\[1\]: must be an integer/],
    ];
    for (const [name, req, message] of cases) {
      it(name, () => {
        const engine = createPolicyEngine(dev);
        assert.throws(() => engine.decide(req), (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument' && message.test(e.message));
      });
    }
  });

  describe('decision cache', () => {
    it('returns the same (frozen) result for the same inputs, and counts hits', () => {
      const engine = createPolicyEngine(dev);
      const a = engine.decide(refund(100));
      const b = engine.decide(refund(100));
      assert.equal(a, b);
      assert.ok(Object.isFrozen(a) && Object.isFrozen(a.explanation.candidates));
      const { size, hits, misses } = engine.cacheStats();
      assert.deepEqual({ size, hits, misses }, { size: 1, hits: 1, misses: 1 });
    });

    it('gives the same result with and without the cache', () => {
      const cached = createPolicyEngine(dev);
      const uncached = createPolicyEngine(dev, { cacheSize: 0 });
      for (const amount of [1, 5000, 5001, 50000, 50001]) {
        cached.decide(refund(amount));
        assert.deepEqual(cached.decide(refund(amount)), uncached.decide(refund(amount)));
      }
      assert.equal(uncached.cacheStats().size, 0);
    });

    it('is keyed on the tier: a different tier is a different decision', () => {
      const engine = createPolicyEngine(dev);
      assert.equal(engine.decide(ticket('standard', 600)).decision, 'allow_with_obligations');
      expectDeny(engine.decide(ticket('restricted', 300)));
      assert.equal(engine.decide(ticket('standard', 600)).decision, 'allow_with_obligations');
      assert.equal(engine.cacheStats().size, 2);
    });

    it('is keyed on principal, groups, action, resource and every context value when policies may read them all', () => {
      // Reads the resource and the context as a whole, so every input is in the key.
      const all = compilePolicySet([
        { name: 'all.cedar', text: '@id("everything") permit (principal, action, resource) when { resource != Resource::"none" && context != {} };' },
      ]);
      const engine = createPolicyEngine(all);
      const base = refund(100);
      const variants: DecisionRequest[] = [
        base,
        { ...base, agent: { name: 'other-bot', groups: ['support'] } },
        { ...base, agent: { name: 'support-bot', groups: [] } },
        { ...base, action: 'tickets.update' },
        { ...base, resource: 'stripe-eu' },
        refund(101),
        refund(100, { trust: 601 }),
        refund(100, { params: { note: 'x' } }),
        refund(100, { extra: true }),
      ];
      for (const v of variants) engine.decide(v);
      assert.equal(engine.cacheStats().size, variants.length);
      assert.equal(engine.cacheStats().hits, 0);
      // Group order, duplicate groups, key order and a dropped clock-dependent field do not matter.
      engine.decide({ ...base, agent: { name: 'support-bot', groups: ['support', 'support'] } });
      engine.decide({ ...base, context: { amount: 100, params: {}, tier: 'standard', trust: 600 } });
      engine.decide(refund(100, { trust_age_seconds: 12345 }));
      assert.equal(engine.cacheStats().hits, 3);
      assert.equal(engine.cacheStats().size, variants.length);
    });

    it('on the dev policies, leaves out the resource and the context values no policy reads', () => {
      const engine = createPolicyEngine(dev);
      const base = refund(100);
      const keyed: DecisionRequest[] = [
        base,
        { ...base, agent: { name: 'other-bot', groups: ['support'] } },
        { ...base, agent: { name: 'support-bot', groups: [] } },
        { ...base, action: 'tickets.update' },
        refund(101),
        refund(100, { trust: 601 }),
        refund(100, { extra: true }), // a new attribute name: Cedar lists the names present in some errors
      ];
      for (const v of keyed) engine.decide(v);
      const { size, hits, misses } = engine.cacheStats();
      assert.deepEqual({ size, hits, misses }, { size: keyed.length, hits: 0, misses: keyed.length });
      const a = engine.decide({ ...base, resource: 'stripe-eu' });
      const b = engine.decide(refund(100, { params: { note: 'x' } }));
      assert.equal(engine.cacheStats().hits, 2);
      assert.deepEqual(a, createPolicyEngine(dev, { cacheSize: 0 }).decide({ ...base, resource: 'stripe-eu' }));
      assert.deepEqual(b, createPolicyEngine(dev, { cacheSize: 0 }).decide(refund(100, { params: { note: 'x' } })));
    });

    it('is keyed on the policy version: engines over different sets never share results', async () => {
      const other = compilePolicySet([{ name: 'x.cedar', text: '@id("nothing") forbid (principal, action, resource);' }]);
      assert.notEqual(other.version, dev.version);
      const a = createPolicyEngine(dev).decide(refund(100));
      const b = createPolicyEngine(other).decide(refund(100));
      assert.equal(a.decision, 'allow');
      expectDeny(b);
      assert.equal(a.policyVersion, dev.version);
      assert.equal(b.policyVersion, other.version);
    });

    it('is bounded and evicts the least recently used entry', () => {
      const engine = createPolicyEngine(dev, { cacheSize: 3 });
      const d1 = engine.decide(refund(1));
      engine.decide(refund(2));
      engine.decide(refund(3));
      assert.equal(engine.decide(refund(1)), d1); // touch 1: now 2 is the oldest
      engine.decide(refund(4)); // evicts 2
      assert.equal(engine.cacheStats().size, 3);
      assert.equal(engine.decide(refund(1)), d1);
      const misses = engine.cacheStats().misses;
      engine.decide(refund(2));
      assert.equal(engine.cacheStats().misses, misses + 1);
    });

    it('is bounded in bytes (cacheBytes): distinct large params a policy reads never hold more than the bound', () => {
      const reader = compilePolicySet([
        { name: 'r.cedar', text: '@id("notes") permit (principal, action == Action::"billing.refund", resource) when { context.params has note && context.params.note != "" };' },
      ]);
      const limit = 64 * 1024;
      const engine = createPolicyEngine(reader, { cacheBytes: limit });
      const big = (i: number) => refund(100, { params: { note: `${i}:${'n'.repeat(6000)}` } });
      const first = engine.decide(big(0));
      assert.equal(engine.decide(big(0)), first, 'a hit returns the identical (frozen) decision');
      for (let i = 1; i <= 500; i++) {
        engine.decide(big(i));
        assert.ok(engine.cacheStats().bytes <= limit, `${engine.cacheStats().bytes} bytes after ${i} decisions`);
      }
      const stats = engine.cacheStats();
      assert.equal(stats.maxBytes, limit);
      assert.ok(stats.size > 1 && stats.size < 500, `evicted by bytes, kept some: ${JSON.stringify(stats)}`);
      // The most recent decision is still a hit, and identical.
      const last = engine.decide(big(500));
      assert.equal(engine.cacheStats().hits, stats.hits + 1);
      assert.deepEqual(last, createPolicyEngine(reader, { cacheSize: 0 }).decide(big(500)));
      // cacheBytes 0 turns the cache off.
      const off = createPolicyEngine(reader, { cacheBytes: 0 });
      off.decide(big(1));
      off.decide(big(1));
      assert.deepEqual([off.cacheStats().size, off.cacheStats().hits], [0, 0]);
    });

    it('keys on a SHA-256 of the inputs, so an entry never holds the params', () => {
      const reader = compilePolicySet([{ name: 'r.cedar', text: '@id("notes") permit (principal, action, resource) when { context.params has note };' }]);
      const engine = createPolicyEngine(reader);
      const note = 'p'.repeat(50_000);
      engine.decide(refund(100, { params: { note } }));
      // Each entry is accounted at a few KB at most, whatever the params' size.
      assert.ok(engine.cacheStats().bytes < 8 * 1024, `${engine.cacheStats().bytes} bytes for one entry`);
    });

    it('does not cache a failed evaluation', () => {
      let broken = true;
      const cedar: CedarApi = {
        ...defaultCedarApi,
        statefulIsAuthorized: (call) => {
          if (broken) throw new Error('transient');
          return defaultCedarApi.statefulIsAuthorized(call);
        },
      };
      const engine = createPolicyEngine(dev, { cedar });
      assertEvaluationFailed(engine.decide(refund(100)));
      broken = false;
      assert.equal(engine.decide(refund(100)).decision, 'allow');
    });
  });

  it('explains a decision on a set with no permits at all', () => {
    const set = compilePolicySet([{ name: 'empty.cedar', text: '// nothing permitted yet\n' }]);
    const d = createPolicyEngine(set).decide(refund(100));
    expectDeny(d);
    assert.deepEqual(d.explanation.candidates, []);
    assert.equal(d.explanation.summary, 'no policy permits billing.refund on stripe for support-bot');
    assert.equal(d.explanation.hint, 'No rule lets support-bot do billing.refund on stripe; ask an operator.');
    // With the agent's owner known, the hint names them.
    const owned = createPolicyEngine(set).decide({ ...refund(100), agent: { name: 'support-bot', groups: ['support'], owner: 'alice' } });
    assert.equal(owned.explanation.hint, 'No rule lets support-bot do billing.refund on stripe; ask alice.');
  });

  it('names each failed comparison with the value it saw, and derives the bound for the hint', () => {
    const engine = createPolicyEngine(dev);
    const d = engine.decide(refund(60_000));
    expectDeny(d);
    const failed = Object.fromEntries(d.explanation.candidates.map((c) => [c.id, c.failed_conditions]));
    assert.deepEqual(failed['billing-refund-small'], ['context.amount <= 5000 was false (context.amount = 60000)']);
    assert.deepEqual(failed['billing-refund-approved'], ['context.amount <= 50000 was false (context.amount = 60000)']);
    assert.match(d.explanation.hint, /^Narrow amount to at most 5000 \(billing-refund-small\), or narrow amount to at most 50000 and ask group finance for approval/);
    // A cached decision for another amount the key tells apart shows its own value.
    assert.deepEqual(engine.decide(refund(70_000)).explanation.candidates[0]!.failed_conditions, ['context.amount <= 5000 was false (context.amount = 70000)']);
  });

  it('derives "requires" from scope and conditions when @requires is absent', () => {
    const set = compilePolicySet([
      {
        name: 'p.cedar',
        text: `@id("p") @obligation("approval:finance") @max_uses("1")
               permit (principal in Group::"ops", action in [Action::"a", Action::"b"], resource)
               when { context.n < 3 && context.tier == "trusted" };`,
      },
    ]);
    const d = createPolicyEngine(set).decide({ agent: { name: 'x', groups: ['ops'] }, action: 'b', resource: 'r', context: { trust: 900, tier: 'trusted', params: {}, n: 1 } });
    assert.equal(d.decision, 'allow_with_obligations');
    assert.deepEqual(d.obligations, { approvals: ['finance'], maxUses: 1 });
    assert.deepEqual(d.explanation.candidates, [
      { id: 'p', requires: 'principal in Group::"ops" and context.n < 3 and context.tier == "trusted"', failed_conditions: [], obligations: ['approval:finance', 'max_uses:1'] },
    ]);
  });

  it('reports trust as score and tier, never an age', () => {
    const d = createPolicyEngine(dev).decide(refund(100, { trust: 812, tier: 'trusted', trust_age_seconds: 5 }));
    assert.deepEqual(d.explanation.trust, { score: 812, tier: 'trusted' });
  });
});
