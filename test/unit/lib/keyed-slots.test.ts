import { strict as assert } from 'node:assert';
import { KeyedSlots } from '../../../src/lib/keyed-slots';
import { InvokesInFlight } from '../../../src/broker/invokes-in-flight';

describe('KeyedSlots', () => {
  it('holds at most max per key, keys apart, and a release gives back exactly one slot however often it is called', () => {
    const slots = new KeyedSlots();
    const a1 = slots.tryAcquire('a', 2)!;
    const a2 = slots.tryAcquire('a', 2)!;
    assert.equal(slots.tryAcquire('a', 2), undefined);
    assert.ok(slots.tryAcquire('b', 2), 'another key is not affected');
    a1();
    a1();
    assert.equal(slots.count('a'), 1);
    assert.ok(slots.tryAcquire('a', 2));
    assert.equal(slots.tryAcquire('a', 2), undefined);
    a2();
    assert.equal(slots.count('a'), 1);
  });
});

describe('InvokesInFlight', () => {
  it('a call refused by the daemon-wide limit gives back the agent slot it took', () => {
    const f = new InvokesInFlight(1);
    const r = f.acquire('a', 5);
    assert.throws(() => f.acquire('b', 5), /too many brokered calls in flight \(at most 1\)/);
    assert.equal(f.count('b'), 0);
    assert.throws(() => f.acquire('a', 1), /for this agent/);
    r();
    r();
    assert.equal(f.count(), 0);
    assert.equal(f.count('a'), 0);
    f.acquire('b', 5);
    assert.equal(f.count(), 1);
  });
});
