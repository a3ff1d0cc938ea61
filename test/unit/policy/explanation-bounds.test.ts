import { strict as assert } from 'node:assert';
import { boundedExplanationJson, explanationTrailer, forAgent, TRAILER_MAX_BYTES, type Explanation } from '../../../src/policy/explanation';
import { remedyOf } from '../../../src/policy/policy-conditions';
import { defaultCedarApi } from '../../../src/policy/cedar-api';

const base = (over: Partial<Explanation> = {}): Explanation => ({
  decision: 'deny',
  summary: 'no policy permits x.y on r for a',
  deciding_policies: [],
  candidates: [],
  hint: 'Narrow amount to at most 5 (p).',
  trust: { score: 600, tier: 'standard' },
  ...over,
});

const many = (n: number, text: string): Explanation['candidates'] =>
  Array.from({ length: n }, (_, i) => ({ id: `p-${i}`, requires: text, failed_conditions: [`${text} was false`], obligations: [] }));

describe('explanation bounds and the quarantined view', () => {
  it('a small explanation is sent whole', () => {
    const e = base({ candidates: many(2, 'context.amount <= 5') });
    assert.deepEqual(JSON.parse(explanationTrailer(e)), e);
  });

  it('a large one is cut under the bound, stays valid JSON, keeps decision and hint, and says what was left out', () => {
    const e = base({ candidates: many(200, 'x'.repeat(400)) });
    const text = explanationTrailer(e);
    assert.ok(text.length <= TRAILER_MAX_BYTES, `${text.length}`);
    const j = JSON.parse(text) as Explanation & { truncated: string };
    assert.equal(j.decision, e.decision);
    assert.equal(j.hint, e.hint);
    assert.match(j.truncated, /long texts and \d+ of 200 candidates left out/);
    assert.ok(j.candidates.length > 0 && j.candidates.length < 200);
  });

  it('is ASCII only (grpc-js metadata) and the same JSON value: non-ASCII is escaped', () => {
    const e = base({ hint: 'Narrow note to "é ✓ 😀".' });
    const text = explanationTrailer(e);
    assert.ok(/^[\x20-\x7e]*$/.test(text), text);
    assert.equal((JSON.parse(text) as Explanation).hint, e.hint);
  });

  it('even a huge hint alone fits (the last resort keeps decision and a cut hint)', () => {
    const text = boundedExplanationJson(base({ hint: 'h'.repeat(50_000), summary: 's'.repeat(50_000) }), 1000);
    assert.ok(text.length <= 1000);
    const j = JSON.parse(text) as { decision: string; hint: string; truncated: string };
    assert.equal(j.decision, base().decision);
    assert.ok(j.hint.startsWith('hhh'));
    assert.match(j.truncated, /left out/);
  });

  it('a quarantined agent sees the hint only; any other tier sees it all', () => {
    const q = base({ trust: { score: 10, tier: 'quarantined' }, candidates: many(1, 'c') });
    assert.deepEqual(forAgent(q), { decision: q.decision, hint: q.hint, hint_only: true });
    assert.deepEqual(Object.keys(JSON.parse(explanationTrailer(q)) as object).sort(), ['decision', 'hint', 'hint_only']);
    const r = base({ trust: { score: 300, tier: 'restricted' } });
    assert.equal(forAgent(r), r);
  });
});

describe('remedies from the policy tree', () => {
  const body = (cond: string) => {
    const r = defaultCedarApi.policyToJson(`permit(principal, action, resource) when { ${cond} };`);
    if (r.type !== 'success') throw new Error('parse');
    return r.json.conditions[0]!.body;
  };
  const cases: Array<[string, boolean, unknown]> = [
    ['context.amount <= 5000', false, { kind: 'at_most', field: 'amount', value: 5000 }],
    ['context.amount < 5000', false, { kind: 'at_most', field: 'amount', value: 4999 }],
    ['5000 >= context.amount', false, { kind: 'at_most', field: 'amount', value: 5000 }],
    ['context.amount > 100', true, { kind: 'at_most', field: 'amount', value: 100 }],
    ['context.params.rows >= 10', false, { kind: 'at_least', field: 'params.rows', value: 10 }],
    ['context.trust >= 700', false, { kind: 'trust', score: 700 }],
    ['context.tier == "trusted"', false, { kind: 'tier', tiers: ['trusted'] }],
    ['context.tier != "restricted"', false, { kind: 'tier', tiers: ['quarantined', 'standard', 'trusted'] }],
    ['context.tier == "quarantined"', true, { kind: 'tier', tiers: ['restricted', 'standard', 'trusted'] }],
    ['context.tier in ["trusted", "standard"]', false, { kind: 'tier', tiers: ['standard', 'trusted'] }],
    ['context.env == "prod"', false, { kind: 'equal', field: 'env', value: 'prod' }],
    ['context.a <= context.b', false, undefined],
    ['context.note like "x*"', false, undefined],
  ];
  for (const [cond, negated, want] of cases) {
    it(`${negated ? 'not ' : ''}${cond}`, () => assert.deepEqual(remedyOf(body(cond), negated), want));
  }
});
