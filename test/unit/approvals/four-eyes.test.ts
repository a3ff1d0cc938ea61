import { strict as assert } from 'node:assert';
import { seatsFilled } from '../../../src/approvals/four-eyes';

const g = (approvers: string[], required = 1) => ({ approvers, required });

describe('four eyes across groups: seatsFilled', () => {
  it('one group: required distinct listed approvers; duplicates and outsiders do not count', () => {
    assert.equal(seatsFilled([g(['a', 'b', 'c'], 2)], ['a', 'b']), true);
    assert.equal(seatsFilled([g(['a', 'b', 'c'], 2)], ['a', 'a']), false);
    assert.equal(seatsFilled([g(['a', 'b', 'c'], 2)], ['a', 'z']), false);
    assert.equal(seatsFilled([g(['a'], 1)], []), false);
  });

  it('several groups: one person fills one seat only', () => {
    assert.equal(seatsFilled([g(['a']), g(['a'])], ['a']), false);
    assert.equal(seatsFilled([g(['a', 'b']), g(['a', 'b'])], ['a']), false);
    assert.equal(seatsFilled([g(['a', 'b']), g(['a', 'b'])], ['a', 'b']), true);
    assert.equal(seatsFilled([g(['a', 'b'], 2), g(['a', 'b'])], ['a', 'b']), false);
  });

  it('finds the assignment a greedy first choice would miss (a voted first and could sit in either)', () => {
    // a is in finance and legal, b only in finance: a must take legal.
    assert.equal(seatsFilled([g(['a', 'b']), g(['a'])], ['a', 'b']), true);
    // A longer chain: x in A,B; y in B,C; z in C only.
    assert.equal(seatsFilled([g(['x']), g(['x', 'y']), g(['y', 'z'])], ['y', 'x', 'z']), true);
    assert.equal(seatsFilled([g(['x']), g(['x', 'y']), g(['y'])], ['x', 'y']), false);
  });
});
