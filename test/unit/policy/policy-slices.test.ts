import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { compilePolicySet, createPolicyEngine, type DecisionRequest } from '../../../src/policy';
import { defaultCedarApi, type CedarApi } from '../../../src/policy/cedar-api';
import { expectDeny } from '../../helpers/expect-denial';

/**
 * The engine asks Cedar only about the policies whose action scope covers the
 * request's action (a preparsed slice per action). Same decisions as the
 * whole set: checked against the same engine made to ask the whole set (a
 * Cedar wrapper maps every slice id back to the whole set's).
 */
describe('policy engine: per-action slices decide as the whole set does', () => {
  const text = [
    '@id("a1-small") permit (principal in Group::"g", action == Action::"a1", resource) when { context.amount <= 100 };',
    '@id("a1-or-a2-trusted") permit (principal, action in [Action::"a1", Action::"a2"], resource) when { context.tier == "trusted" };',
    '@id("a2-broken") permit (principal, action == Action::"a2", resource) when { context.missing > 1 };',
    '@id("no-quarantine") forbid (principal, action, resource) when { context.tier == "quarantined" };',
    '@id("a3-never-for-x") forbid (principal == Agent::"x", action == Action::"a3", resource);',
    '@id("a3-all") permit (principal, action == Action::"a3", resource);',
  ].join('\n');
  const set = compilePolicySet([{ name: 'p.cedar', text }]);
  const sliced = createPolicyEngine(set, { cacheSize: 0, cacheBytes: 0 });

  it('grants, forbids (including a forbid on every action) and errors as expected', () => {
    const req = (action: string, tier: string, amount: number, agent = 'y'): DecisionRequest => ({
      agent: { name: agent, groups: ['g'] },
      action,
      resource: 'r',
      context: { trust: 600, tier: tier as never, params: {}, amount },
    });
    assert.equal(sliced.decide(req('a1', 'standard', 50)).decision, 'allow');
    expectDeny(sliced.decide(req('a1', 'standard', 500)));
    expectDeny(sliced.decide(req('a1', 'quarantined', 50)));
    assert.deepEqual(sliced.decide(req('a1', 'quarantined', 50)).determining.map((d) => d.id), ['no-quarantine']);
    assert.equal(sliced.decide(req('a2', 'trusted', 0)).decision, 'allow');
    expectDeny(sliced.decide(req('a2', 'standard', 0)));
    assert.equal(sliced.decide(req('a3', 'standard', 0)).decision, 'allow');
    expectDeny(sliced.decide(req('a3', 'standard', 0, 'x')));
    // An action no policy names: only the unscoped forbid could apply.
    expectDeny(sliced.decide(req('zz', 'trusted', 0)));
    const denied = sliced.decide(req('a1', 'standard', 500));
    assert.ok(denied.explanation.candidates.find((c) => c.id === 'a1-small')!.failed_conditions.length > 0);
    assert.deepEqual(denied.explanation.candidates.map((c) => c.id), ['a1-small', 'a1-or-a2-trusted']);
  });

  it('agrees with the whole set on random requests', () => {
    let asked = 0;
    const unsliced: CedarApi = {
      ...defaultCedarApi,
      statefulIsAuthorized: (call) => {
        asked++;
        return defaultCedarApi.statefulIsAuthorized({ ...call, preparsedPolicySetId: call.preparsedPolicySetId.replace(/\/action\/.*$/, '') });
      },
    };
    const whole = createPolicyEngine(set, { cacheSize: 0, cacheBytes: 0, cedar: unsliced });
    fc.assert(
      fc.property(fc.constantFrom('1', '2', '3', '4'), fc.constantFrom('trusted', 'standard', 'quarantined'), fc.integer({ min: 0, max: 200 }), fc.constantFrom('x', 'y'), (n, tier, amount, agent) => {
        const base = { agent: { name: agent, groups: ['g'] }, resource: 'r', context: { trust: 600, tier: tier as never, params: {}, amount } };
        const a = sliced.decide({ ...base, action: `a${n}` });
        const w = whole.decide({ ...base, action: `a${n}` });
        assert.equal(a.decision, w.decision);
        assert.deepEqual(a.determining, w.determining);
        assert.deepEqual(a.explanation.candidates, w.explanation.candidates);
      }),
      { numRuns: 200 },
    );
    assert.ok(asked >= 200, 'the reference asked Cedar itself');
  });
});
