import { strict as assert } from 'node:assert';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { BrokerError } from '../../../src/lib/errors';
import { defaultCedarApi, PolicyJson } from '../../../src/policy/cedar-api';
import { analyzeDecisionInputs, DecisionInputs, FULL_INPUTS } from '../../../src/policy/decision-inputs';
import { compilePolicySet, createPolicyEngine, DecisionRequest, EVALUATION_FAILED, loadPolicySet, PolicyEngine, PolicySet } from '../../../src/policy';
import { expectDeny } from '../../helpers/expect-denial';

/**
 * The decision cache keys only on what the policy set can observe
 * (decision-inputs.ts). These tests check that this is sound: a cached engine
 * answers exactly (decision and explanation, deep-equal) what an engine
 * without a cache answers, on sets that do and do not observe the resource
 * and the context.
 */

const DEV_POLICIES = resolve(__dirname, '../../../deploy/dev/policies');
const COMBINING_POLICIES = resolve(__dirname, '../../fixtures/policies/suites/combining/policies');

const INLINE_SETS: Record<string, { text: string; expect: Omit<DecisionInputs, 'fallback'> }> = {
  'resource in conditions (==, in, is)': {
    text: `
      @id("t-eq") permit (principal in Group::"support", action == Action::"tickets.update", resource)
        when { resource == Resource::"ticket/T-1" || context.tier == "trusted" };
      @id("t-in") @max_ttl("60") permit (principal, action == Action::"tickets.update", resource) when { resource in Resource::"ticket/T-2" };
      @id("t-is") forbid (principal, action, resource) when { resource is Resource && context has amount && context.amount > 100 };`,
    expect: { resource: true, context: ['amount', 'tier', 'trust', 'trust_fresh'] },
  },
  'resource scope constrained': {
    text: `
      @id("scope-eq") permit (principal in Group::"support", action == Action::"tickets.update", resource == Resource::"ticket/T-1");
      @id("scope-in") @obligation("approval:finance") permit (principal, action == Action::"billing.refund", resource in Resource::"stripe");
      @id("scope-is") permit (principal in Group::"ops", action, resource is Resource) when { context.tier == "trusted" };`,
    expect: { resource: true, context: ['tier', 'trust', 'trust_fresh'] },
  },
  'a forbid alone reads the resource': {
    text: `
      @id("all") permit (principal in Group::"support", action, resource) when { context.trust >= 300 };
      @id("not-t3") forbid (principal, action, resource) when { resource == Resource::"ticket/T-3" };`,
    expect: { resource: true, context: ['tier', 'trust', 'trust_fresh'] },
  },
  'context as a whole': {
    text: `
      @id("ctx-eq") permit (principal, action == Action::"tickets.update", resource)
        when { context == {"trust": 600, "tier": "standard", "params": {}} };
      @id("ctx-set") permit (principal in Group::"support", action, resource)
        when { [context].contains({"trust": 900, "tier": "trusted", "params": {"ticket": "T-1"}}) };
      @id("ctx-rec") forbid (principal, action == Action::"billing.refund", resource) when { {"c": context}.c.tier == "quarantined" };`,
    expect: { resource: false, context: 'all' },
  },
  'resource attributes': {
    text: `
      @id("res-attr") permit (principal in Group::"support", action == Action::"tickets.update", resource) when { resource.owner == "support-bot" };
      @id("res-has") permit (principal, action, resource) when { resource has owner || context.tier == "trusted" };`,
    expect: { resource: true, context: ['tier', 'trust', 'trust_fresh'] },
  },
  'a Resource entity literal, without the resource variable': {
    // Cedar's error differs for the request's own resource ("does not have the attribute")
    // and any other ("does not exist"), and the error reaches the explanation.
    text: `
      @id("lit-attr") permit (principal in Group::"support", action == Action::"billing.refund", resource) when { Resource::"stripe".foo == 1 };
      @id("lit-in") permit (principal, action == Action::"tickets.update", resource) when { Group::"support" in Resource::"ticket/T-1" };`,
    expect: { resource: true, context: ['tier', 'trust', 'trust_fresh'] },
  },
  'no permits at all': {
    text: `@id("no-x") forbid (principal, action == Action::"x", resource);`,
    expect: { resource: false, context: ['tier', 'trust', 'trust_fresh'] },
  },
  'context attributes by every syntax, params, extension functions': {
    text: `
      @id("k-params") @max_uses("1") permit (principal in Group::"support", action == Action::"tickets.update", resource)
        when { context.params has ticket && context.params.ticket like "T-1*" };
      @id("k-index") permit (principal, action == Action::"billing.refund", resource)
        when { context["amount"] <= 5000 && decimal("1.5").lessThan(decimal("2.0")) && ip("10.0.0.1").isInRange(ip("10.0.0.0/8")) };
      @id("k-path") permit (principal in Group::"ops", action, resource) when { context has rows.n && context.rows.n < 10 };
      @id("k-unless") forbid (principal, action, resource) when { context.trust < 100 } unless { context.tier == "trusted" };
      @id("k-missing") permit (principal in Group::"admins", action, resource) when { context.absent == 1 };`,
    expect: { resource: false, context: ['absent', 'amount', 'params', 'rows', 'tier', 'trust', 'trust_fresh'] },
  },
};

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom('T-1', 'T-12', 'x', '', 'CHG-1'),
    fc.boolean(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'n', 'ticket', 'change'), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** Small pools, so keys collide often while the parts a key may leave out differ. */
const request: fc.Arbitrary<DecisionRequest> = fc
  .record({
    agent: fc.constantFrom(
      { name: 'support-bot', groups: ['support'] },
      { name: 'support-bot', groups: ['support', 'support'] },
      { name: 'ops-bot', groups: ['admins', 'ops'] },
      { name: 'x', groups: [] as string[] },
    ),
    action: fc.constantFrom('tickets.update', 'billing.refund', 'data.export', 'deploy.run', 'staging.write', 'x'),
    resource: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('ticket/T-1', 'ticket/T-2', 'ticket/T-3', 'stripe', 'prod', '') },
      { weight: 3, arbitrary: fc.string({ maxLength: 4 }) },
      { weight: 1, arbitrary: fc.constant('ticket/\uD800') },
    ),
    trust: fc.constantFrom(
      { trust: 600, tier: 'standard' as const },
      { trust: 900, tier: 'trusted' as const },
      { trust: 300, tier: 'restricted' as const },
      { trust: 0, tier: 'quarantined' as const },
      { trust: 900, tier: 'standard' as const },
    ),
    params: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom({}, { ticket: 'T-1' }, { ticket: 'T-12' }, { ticket: 'T-2' }, { change: 'CHG-1' }, { incident: 'i' }) },
      { weight: 2, arbitrary: fc.dictionary(fc.constantFrom('ticket', 'note', 'incident', 'change'), json, { maxKeys: 3 }) },
      { weight: 1, arbitrary: fc.constant({ ticket: 'T-\uDC00' }) },
    ),
    extra: fc.oneof(
      fc.constant({}),
      fc.record({ amount: fc.constantFrom<unknown>(100, 5000, 5001, 50_000, 50_001, 'lots', 1.5) }),
      fc.record({ amount: fc.constantFrom(100, 5001, 50_001), zeta: json }),
      fc.record({ rows: fc.constantFrom<unknown>(5, 500, 5000, { n: 3 }, { n: 'many' }), freeze: fc.boolean(), env: fc.constantFrom<unknown>('staging', 'prod', 7) }),
      fc.record({ zeta: json }),
    ),
    age: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
  })
  .map(({ agent, action, resource, trust, params, extra, age }) => ({
    agent,
    action,
    resource,
    context: { ...trust, params, ...extra, ...(age === undefined ? {} : { trust_age_seconds: age }) },
  }));

type Part = 'resource' | 'params' | 'zeta' | 'amount' | 'age' | 'groups' | 'trust' | 'agent' | 'same';

/** `base` with one part taken from `other`: a request that often differs only where a key may not look. */
function vary(base: DecisionRequest, part: Part, other: DecisionRequest): DecisionRequest {
  const ctx = (req: DecisionRequest, ...keys: string[]) => Object.fromEntries(keys.filter((k) => k in req.context).map((k) => [k, req.context[k]]));
  const without = (...keys: string[]) => Object.fromEntries(Object.entries(base.context).filter(([k]) => !keys.includes(k))) as DecisionRequest['context'];
  switch (part) {
    case 'resource':
      return { ...base, resource: other.resource };
    case 'params':
      return { ...base, context: { ...base.context, params: other.context.params } };
    case 'zeta':
    case 'amount':
      return { ...base, context: { ...without(part), ...ctx(other, part) } };
    case 'age':
      return { ...base, context: { ...without('trust_age_seconds'), ...ctx(other, 'trust_age_seconds') } };
    case 'groups':
      return { ...base, agent: { ...base.agent, groups: [...base.agent.groups].reverse().concat(base.agent.groups.slice(0, 1)) } };
    case 'trust':
      return { ...base, context: { ...base.context, trust: other.context.trust, tier: other.context.tier } };
    case 'agent':
      return { ...base, agent: other.agent };
    case 'same':
      return { ...base, context: { ...base.context } };
  }
}

const scenario = fc
  .tuple(request, fc.array(fc.tuple(fc.constantFrom<Part>('resource', 'params', 'zeta', 'amount', 'age', 'groups', 'trust', 'agent', 'same'), request), { minLength: 1, maxLength: 12 }))
  .map(([base, changes]) => [base, ...changes.map(([part, other]) => vary(base, part, other))]);

type Outcome = { decision: unknown } | { error: string };

function outcome(engine: PolicyEngine, req: DecisionRequest): Outcome {
  try {
    return { decision: engine.decide(req) };
  } catch (err) {
    return { error: err instanceof BrokerError ? `${err.kind}: ${err.message}` : `unexpected: ${String(err)}` };
  }
}

function cedarJson(text: string): PolicyJson {
  const a = defaultCedarApi.policyToJson(text);
  if (a.type !== 'success') throw new Error(`bad policy in test: ${text}`);
  return a.json;
}

function ticket(n: number, groups: string[] = ['support']): DecisionRequest {
  return { agent: { name: 'support-bot', groups }, action: 'tickets.update', resource: `ticket/T-${n}`, context: { trust: 600, tier: 'standard', params: { ticket: `T-${n}` } } };
}

describe('decision cache soundness', () => {
  const sets: Record<string, PolicySet> = {};
  before(async () => {
    sets['dev policies'] = await loadPolicySet(DEV_POLICIES);
    sets['combining fixture'] = await loadPolicySet(COMBINING_POLICIES);
    for (const [name, s] of Object.entries(INLINE_SETS)) sets[name] = compilePolicySet([{ name: 'p.cedar', text: s.text }]);
  });

  describe('static analysis of what a policy set can observe', () => {
    it('the dev policies never observe the resource and read only amount and tier', () => {
      assert.deepEqual(analyzeDecisionInputs(sets['dev policies'].policies), { resource: false, context: ['amount', 'tier', 'trust', 'trust_fresh'] });
    });

    it('the combining fixture constrains a resource scope and reads six attributes', () => {
      assert.deepEqual(analyzeDecisionInputs(sets['combining fixture'].policies), {
        resource: true,
        context: ['env', 'freeze', 'params', 'rows', 'tier', 'trust', 'trust_fresh'],
      });
    });

    for (const [name, s] of Object.entries(INLINE_SETS)) {
      it(name, () => assert.deepEqual(analyzeDecisionInputs(sets[name].policies), s.expect));
    }

    it('counts any entity literal not of the principal, group or action type as possibly the resource', () => {
      const cases: [string, boolean][] = [
        ['permit (principal == Agent::"a", action in [Action::"x"], resource) when { principal in Group::"g" };', false],
        ['permit (principal, action, resource) when { context.x == Thing::"t" };', true],
        ['permit (principal in Team::"t", action, resource);', true],
        ['permit (principal, action, resource) when { [Resource::"r"].contains(principal) };', true],
        ['permit (principal, action, resource) when { principal.x == {"k": Resource::"r"} };', true],
        ['permit (principal is Agent in Group::"g", action, resource) when { resource.x == 1 };', true],
        ['permit (principal, action, resource) when { principal has resource };', false], // an attribute named "resource"
      ];
      for (const [text, resource] of cases) assert.equal(analyzeDecisionInputs([{ json: cedarJson(text) }]).resource, resource, text);
    });

    it('counts any constrained resource scope, even one that cannot fail', () => {
      assert.equal(analyzeDecisionInputs([{ json: cedarJson('permit (principal, action, resource is Resource);') }]).resource, true);
      assert.equal(analyzeDecisionInputs([{ json: cedarJson('permit (principal, action, resource);') }]).resource, false);
    });

    it('any other use of context makes the whole context observable', () => {
      for (const cond of ['context == {}', 'context has x && context != {"x": 1}', 'if context.a then context else {}.b', 'ip(context).isIpv4()']) {
        const text = `permit (principal, action, resource) when { ${cond} };`;
        assert.equal(analyzeDecisionInputs([{ json: cedarJson(text) }]).context, 'all', cond);
      }
    });

    it('falls back to every input on anything it does not recognise', () => {
      const good = cedarJson('permit (principal, action, resource) when { context.a == 1 };');
      const when = (body: unknown) => ({ ...good, conditions: [{ kind: 'when', body }] }) as unknown as PolicyJson;
      const a = { '.': { left: { Var: 'context' }, attr: 'a' } };
      const unknown: [string, PolicyJson][] = [
        ['unknown operator', when({ '@@': { left: a, right: a } })],
        ['unknown extension function', when({ frobnicate: [a] })],
        ['two operators in one node', when({ '==': { left: a, right: a }, '!=': { left: a, right: a } })],
        ['extra operand field', when({ '==': { left: a, right: a, third: a } })],
        ['missing operand', when({ '==': { left: a } })],
        ['a slot', when({ Slot: '?resource' })],
        ['an unknown variable', when({ Var: 'session' })],
        ['a dynamic attribute name', when({ '.': { left: { Var: 'context' }, attr: { Var: 'x' } } })],
        ['a malformed body', when(null)],
        ['an unknown clause kind', { ...good, conditions: [{ kind: 'while', body: a }] } as unknown as PolicyJson],
        ['a slot in a scope', { ...good, principal: { op: '==', slot: '?principal' } } as unknown as PolicyJson],
        ['an unknown scope op', { ...good, resource: { op: 'like', entity: { type: 'X', id: 'y' } } } as unknown as PolicyJson],
        ['an unknown policy field', { ...good, templateLinks: [] } as unknown as PolicyJson],
        ['not an object', null as unknown as PolicyJson],
      ];
      for (const [what, policy] of unknown) {
        const got = analyzeDecisionInputs([{ json: good }, { id: 'bad', json: policy }]);
        assert.equal(got.resource, FULL_INPUTS.resource, what);
        assert.equal(got.context, FULL_INPUTS.context, what);
        assert.match(got.fallback ?? '', /^bad: /, what);
      }
      assert.equal(analyzeDecisionInputs([{ json: good }]).fallback, undefined);
    });
  });

  describe('a cached engine answers exactly what an uncached one does (property)', () => {
    const names = ['dev policies', 'combining fixture', ...Object.keys(INLINE_SETS)];
    for (const name of names) {
      it(name, () => {
        const set = sets[name];
        const uncached = createPolicyEngine(set, { cacheSize: 0 });
        const cached = createPolicyEngine(set);
        const small = createPolicyEngine(set, { cacheSize: 4 }); // evicts constantly
        fc.assert(
          fc.property(fc.oneof(scenario, fc.array(request, { minLength: 1, maxLength: 30 })), (reqs) => {
            for (const req of reqs) {
              const want = outcome(uncached, req);
              assert.deepStrictEqual(outcome(cached, req), want);
              assert.deepStrictEqual(outcome(small, req), want);
            }
          }),
          { numRuns: 150 },
        );
        // Not vacuous: the cache answered many of them.
        assert.ok(cached.cacheStats().hits > 100, `hits: ${JSON.stringify(cached.cacheStats())}`);
      });
    }
  });

  describe('on the dev policies', () => {
    let dev: PolicySet;
    before(() => {
      dev = sets['dev policies'];
    });

    it('1000 tickets.update decisions on distinct tickets are >= 990 cache hits, each the uncached answer', () => {
      const cached = createPolicyEngine(dev);
      const uncached = createPolicyEngine(dev, { cacheSize: 0 });
      for (let n = 1; n <= 1000; n++) assert.deepStrictEqual(cached.decide(ticket(n)), uncached.decide(ticket(n)));
      const { hits, misses } = cached.cacheStats();
      assert.ok(hits >= 990, `hits ${hits}, misses ${misses}`);
      assert.equal(cached.decide(ticket(1)).decision, 'allow_with_obligations');
    });

    it('a cached deny names the resource of the request that hit it', () => {
      const engine = createPolicyEngine(dev);
      const first = engine.decide(ticket(1, ['ops']));
      assert.equal(first.explanation.summary, 'no policy permits tickets.update on ticket/T-1 for support-bot');
      const second = engine.decide(ticket(2, ['ops']));
      assert.equal(engine.cacheStats().hits, 1);
      assert.equal(second.explanation.summary, 'no policy permits tickets.update on ticket/T-2 for support-bot');
      assert.ok(second.explanation.hint.includes('ticket/T-2'), second.explanation.hint);
      assert.ok(Object.isFrozen(second) && Object.isFrozen(second.explanation));
      assert.deepStrictEqual(second, createPolicyEngine(dev, { cacheSize: 0 }).decide(ticket(2, ['ops'])));
      // The same resource again gets the very object first cached.
      assert.equal(engine.decide(ticket(1, ['ops'])), first);
    });

    it('never answers from the cache a request Cedar cannot read (a lone surrogate where the key does not look)', () => {
      const engine = createPolicyEngine(dev);
      assert.equal(engine.decide(ticket(1)).decision, 'allow_with_obligations');
      const hits = engine.cacheStats().hits;
      for (const bad of [{ ...ticket(1), resource: 'ticket/\uD800' }, { ...ticket(1), context: { ...ticket(1).context, params: { ticket: 'T-\uDFFF' } } }]) {
        const d = engine.decide(bad);
        expectDeny(d);
        assert.equal(d.explanation.summary, EVALUATION_FAILED);
      }
      assert.equal(engine.cacheStats().hits, hits);
      // A well-formed pair is fine.
      assert.equal(engine.decide({ ...ticket(1), resource: 'ticket/\uD83D\uDE00' }).decision, 'allow_with_obligations');
      assert.equal(engine.cacheStats().hits, hits + 1);
    });

    it('does not hand Cedar strings it would throw on (each throw leaks wasm stack; ~1500 broke the instance)', () => {
      const causes: unknown[] = [];
      const engine = createPolicyEngine(dev, { cacheSize: 0, onError: (e) => causes.push(e) });
      const bad = { ...ticket(1), context: { ...ticket(1).context, params: { ticket: 'T-\uD800' } } };
      for (let i = 0; i < 2500; i++) assert.equal(engine.decide(bad).explanation.summary, EVALUATION_FAILED);
      assert.match(String(causes[0]), /lone UTF-16 surrogate/);
      assert.equal(engine.decide(ticket(1)).decision, 'allow_with_obligations');
    });

    it('still rejects a bad value in a field no policy reads, before looking at the cache', () => {
      const engine = createPolicyEngine(dev);
      engine.decide(ticket(1));
      const bad = { ...ticket(1), context: { ...ticket(1).context, params: { ticket: 1.5 } } };
      assert.throws(() => engine.decide(bad), (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument');
    });
  });
});
