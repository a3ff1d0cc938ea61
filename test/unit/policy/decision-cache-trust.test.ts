import { strict as assert } from 'node:assert';
import { decisionCacheKey } from '../../../src/policy/decision-cache';
import { analyzeDecisionInputs } from '../../../src/policy/decision-inputs';
import { toCedarInput, type DecisionRequest } from '../../../src/policy/decision-request';
import { compilePolicySet } from '../../../src/policy';

/** The decision cache keys on trust, tier and trust_fresh even when no policy reads them. */
describe('decision cache: trust inputs are always in the key', () => {
  it('trust_fresh, tier and trust each change the key under a set that reads none of them', () => {
    const set = compilePolicySet([{ name: 'p.cedar', text: '@id("p")\npermit (principal, action == Action::"a.b", resource);\n' }]);
    const inputs = analyzeDecisionInputs(set.policies);
    assert.deepEqual(inputs.context, ['tier', 'trust', 'trust_fresh']);
    const req = (ctx: Partial<DecisionRequest['context']>): DecisionRequest => ({
      agent: { name: 'a', groups: [] },
      action: 'a.b',
      resource: 'r',
      context: { trust: 600, tier: 'standard', trust_fresh: false, params: {}, ...ctx },
    });
    const key = (ctx: Partial<DecisionRequest['context']>): string => decisionCacheKey(set.version, toCedarInput(req(ctx)), inputs);
    const base = key({});
    assert.notEqual(key({ trust_fresh: true }), base);
    assert.notEqual(key({ tier: 'restricted' }), base);
    assert.notEqual(key({ trust: 601 }), base);
    assert.equal(key({}), base);
  });

  it('a trust_fresh that is not a boolean is a malformed request (fails closed)', () => {
    assert.throws(() => toCedarInput({ agent: { name: 'a', groups: [] }, action: 'a.b', resource: 'r', context: { trust: 600, tier: 'standard', trust_fresh: 'yes' as unknown as boolean, params: {} } }), /trust_fresh must be a boolean/);
  });
});
