import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { choosePermit, obligationCount, obligationLabels, Obligations, parseObligationAnnotation } from '../../../src/policy/obligations';

describe('obligations', () => {
  it('parses a comma-separated approval list, trimming spaces', () => {
    assert.deepEqual(parseObligationAnnotation('approval:finance'), { approvals: ['finance'], problems: [] });
    assert.deepEqual(parseObligationAnnotation(' approval:finance , approval:legal'), { approvals: ['finance', 'legal'], problems: [] });
  });

  it('rejects unknown kinds, empty items, bad group names and repeats, all at once', () => {
    const { problems } = parseObligationAnnotation('mfa:yubikey,,approval:,approval:a b,approval:x,approval:x');
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems[0], /unknown kind/);
    assert.match(problems[1], /empty item/);
    assert.match(problems[2], /invalid approval group/);
    assert.match(problems[3], /invalid approval group/);
    assert.match(problems[4], /twice/);
  });

  it('labels and counts', () => {
    const o: Obligations = { approvals: ['finance'], maxTtlSeconds: 300, maxUses: 1 };
    assert.deepEqual(obligationLabels(o), ['approval:finance', 'max_ttl:300s', 'max_uses:1']);
    assert.equal(obligationCount(o), 3);
    assert.equal(obligationCount({ approvals: [] }), 0);
  });

  it('chooses a permit without obligations when there is one', () => {
    const chosen = choosePermit([
      { id: 'b', obligations: { approvals: ['finance'] } },
      { id: 'z', obligations: { approvals: [] } },
      { id: 'a', obligations: { approvals: [], maxUses: 1 } },
    ]);
    assert.equal(chosen?.id, 'z');
  });

  it('chooses the fewest obligations; ties go to fewer approvals, then the smaller id', () => {
    assert.equal(choosePermit([{ id: 'two-approvals', obligations: { approvals: ['a', 'b'] } }, { id: 'ttl-and-uses', obligations: { approvals: [], maxTtlSeconds: 1, maxUses: 1 } }])?.id, 'ttl-and-uses');
    assert.equal(choosePermit([{ id: 'b', obligations: { approvals: ['x'] } }, { id: 'a', obligations: { approvals: ['y'] } }])?.id, 'a');
    assert.equal(choosePermit([]), undefined);
  });

  it('the choice has the minimum count and does not depend on input order (property)', () => {
    const permit = fc.record({
      id: fc.string({ minLength: 1, maxLength: 4 }),
      obligations: fc.record(
        { approvals: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }), maxTtlSeconds: fc.integer({ min: 1, max: 999 }), maxUses: fc.integer({ min: 1, max: 9 }) },
        { requiredKeys: ['approvals'] },
      ),
    });
    fc.assert(
      fc.property(fc.uniqueArray(permit, { minLength: 1, maxLength: 6, selector: (p) => p.id }), (permits) => {
        const chosen = choosePermit(permits)!;
        const min = Math.min(...permits.map((p) => obligationCount(p.obligations)));
        return obligationCount(chosen.obligations) === min && choosePermit([...permits].reverse())!.id === chosen.id;
      }),
    );
  });
});
