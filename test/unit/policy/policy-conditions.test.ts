import { strict as assert } from 'node:assert';
import { defaultCedarApi } from '../../../src/policy/cedar-api';
import { conditionChecks, contextAttributes, policyHead } from '../../../src/policy/policy-conditions';

function json(text: string) {
  const a = defaultCedarApi.policyToJson(text);
  if (a.type !== 'success') throw new Error('bad policy in test');
  return a.json;
}

describe('policy conditions', () => {
  it('splits when-clauses on && and unless-clauses on ||, after the scope checks', () => {
    const p = json(`permit (principal in Group::"g", action, resource is Resource)
      when { context.a > 1 && (context.b || context.c) && context.d == "x" }
      unless { context.e || context.f.g };`);
    const checks = conditionChecks('p', p, defaultCedarApi);
    assert.deepEqual(
      checks.map((c) => [c.key, c.clause, c.text, c.failedText]),
      [
        ['p#0', -1, 'principal in Group::"g"', 'principal must be in Group::"g"'],
        ['p#1', -1, 'resource is Resource', 'resource must be a Resource'],
        ['p#2', 0, 'context.a > 1', 'context.a > 1'],
        ['p#3', 0, 'context.b || context.c', 'context.b || context.c'],
        ['p#4', 0, 'context.d == "x"', 'context.d == "x"'],
        ['p#5', 1, 'unless context.e', 'unless context.e'],
        ['p#6', 1, 'unless context.f.g', 'unless context.f.g'],
      ],
    );
  });

  it('marks checks that read only trust or tier', () => {
    const p = json('permit (principal, action, resource) when { context.trust >= 800 && context.tier != "restricted" && context.amount < 5 && context.trust > context.amount && true };');
    assert.deepEqual(
      conditionChecks('p', p, defaultCedarApi).map((c) => c.trustOnly),
      [true, true, false, false, false],
    );
  });

  it('finds top-level context attributes, including `has` paths', () => {
    const p = json('permit (principal, action, resource) when { context has params.x && context.params.y > context["amount"] && principal.z == 1 };');
    assert.deepEqual([...contextAttributes(p.conditions)].sort(), ['amount', 'params']);
  });

  it('renders a scope head for a policy without an id', () => {
    assert.equal(policyHead(json('forbid (principal == Agent::"a", action in [Action::"x", Action::"y"], resource);')), 'forbid (principal == Agent::"a", action in [Action::"x", Action::"y"], resource)');
    assert.equal(policyHead(json('permit (principal, action == Action::"x", resource in Resource::"r");')), 'permit (principal, action == Action::"x", resource in Resource::"r")');
  });
});
