import { strict as assert } from 'node:assert';
import { IdSource } from '../../../src/lib/ids';

describe('lib/ids: random ids from a CSPRNG pool', () => {
  const ids = new IdSource();
  const randomPoolBytes = (n: number): Buffer => ids.randomPoolBytes(n);

  it('never hands out the same bytes twice, across many refills', () => {
    const seen = new Set<string>();
    // 20,000 x 18 bytes is about 90 refills of the 4 KiB pool.
    for (let i = 0; i < 20_000; i++) {
      const b = randomPoolBytes(18);
      assert.equal(b.length, 18);
      seen.add(b.toString('hex'));
    }
    assert.equal(seen.size, 20_000);
  });

  it('hands out disjoint byte ranges', () => {
    const ranges = new Map<ArrayBufferLike, Array<[number, number]>>();
    for (let i = 0; i < 2000; i++) {
      const b = randomPoolBytes(1 + (i % 40));
      const list = ranges.get(b.buffer) ?? [];
      list.push([b.byteOffset, b.byteOffset + b.length]);
      ranges.set(b.buffer, list);
    }
    for (const list of ranges.values()) {
      list.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < list.length; i++) assert.ok(list[i]![0] >= list[i - 1]![1], `ranges ${list[i - 1]} and ${list[i]} overlap`);
    }
  });

  it('refuses a length that is not a whole number of bytes', () => {
    for (const n of [NaN, -1, 1.5, Infinity]) assert.throws(() => randomPoolBytes(n), RangeError);
  });

  it('a view handed out earlier does not change when the pool refills', () => {
    const held = randomPoolBytes(32);
    const copy = Buffer.from(held);
    for (let i = 0; i < 1000; i++) randomPoolBytes(64);
    assert.deepEqual(held, copy);
  });

  it('large draws bypass the pool and still have the asked length', () => {
    assert.equal(randomPoolBytes(5000).length, 5000);
    assert.equal(randomPoolBytes(0).length, 0);
  });

  it('two sources keep separate pools: one never hands out bytes from the other', () => {
    const other = new IdSource();
    const a = randomPoolBytes(16);
    const b = other.randomPoolBytes(16);
    assert.notEqual(a.buffer, b.buffer);
    assert.notDeepEqual(a, b);
  });

  it('lease ids carry 144 bits (24 base64url characters) and request ids 64 bits', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.match(ids.newLeaseId(now), /^lease_[0-9a-f]{12}[A-Za-z0-9_-]{24}$/);
    // The issue time first, so ids sort (and index) in issue order.
    assert.ok(ids.newLeaseId(now) < ids.newLeaseId(now + 1));
    assert.equal(ids.newLeaseId(now).slice(6, 18), now.toString(16).padStart(12, '0'));
    assert.match(ids.newRequestId(), /^[0-9a-f]{16}$/);
    assert.notEqual(ids.newLeaseId(now), ids.newLeaseId(now));
  });
});
