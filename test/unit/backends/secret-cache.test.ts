import { strict as assert } from 'node:assert';
import { SecretCache } from '../../../src/backends/secret-cache';
import { ManualClock } from '../../../src/lib/clock';
import { SecretValue } from '../../../src/lib/secret-value';

const v = (text: string, version = 1): { value: SecretValue; version: number } => ({ value: SecretValue.fromString(text), version });

describe('SecretCache', () => {
  it('keeps a copy for the TTL: the caller may wipe what it got, and expiry drops it', () => {
    const clock = new ManualClock();
    const c = new SecretCache({ clock });
    const k = SecretCache.key('crm', undefined, 'token');
    const orig = v('s3cret');
    c.set(k, 'crm', orig, 30_000);
    orig.value.wipe();
    const got = c.get(k)!;
    assert.equal(got.value.revealString(), 's3cret');
    got.value.wipe();
    assert.equal(c.get(k)!.value.revealString(), 's3cret');
    clock.advance(30_000);
    assert.equal(c.get(k), undefined);
    assert.equal(c.size, 0);
  });

  it('a TTL of 0 caches nothing; keys differ per version and field', () => {
    const c = new SecretCache({ clock: new ManualClock() });
    c.set(SecretCache.key('a', undefined, undefined), 'a', v('x'), 0);
    assert.equal(c.size, 0);
    c.set(SecretCache.key('a', 1, undefined), 'a', v('one'), 1000);
    c.set(SecretCache.key('a', 2, undefined), 'a', v('two', 2), 1000);
    assert.equal(c.get(SecretCache.key('a', 1, undefined))!.value.revealString(), 'one');
    assert.equal(c.get(SecretCache.key('a', 2, undefined))!.value.revealString(), 'two');
    assert.equal(c.get(SecretCache.key('a', 2, 'f')), undefined);
  });

  it('invalidate(secret) drops every entry of that secret only', () => {
    const c = new SecretCache({ clock: new ManualClock() });
    c.set(SecretCache.key('a', undefined, undefined), 'a', v('x'), 1000);
    c.set(SecretCache.key('a', 3, undefined), 'a', v('y', 3), 1000);
    c.set(SecretCache.key('b', undefined, undefined), 'b', v('z'), 1000);
    c.invalidate('a');
    assert.equal(c.size, 1);
    assert.ok(c.get(SecretCache.key('b', undefined, undefined)));
  });

  it('is bounded by entries and by bytes (least recently used goes first)', () => {
    const c = new SecretCache({ clock: new ManualClock(), maxEntries: 3, maxBytes: 10 });
    for (const n of ['a', 'b', 'c']) c.set(n, n, v(n), 1000);
    c.get('a');
    c.set('d', 'd', v('d'), 1000);
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => c.get(k) !== undefined), [true, false, true, true]);
    c.set('big', 'big', v('0123456789'), 1000);
    assert.equal(c.size, 1);
    c.set('huge', 'huge', v('0123456789X'), 1000);
    assert.equal(c.get('huge'), undefined, 'a value larger than the whole cache is not kept');
  });
});
