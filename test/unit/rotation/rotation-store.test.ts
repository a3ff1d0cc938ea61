import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { generateValue, DEFAULT_ALPHABET } from '../../../src/rotation/generator';
import { tempDir } from '../../helpers/broker-harness';

describe('rotation locks in the SQLite store (migration 14)', () => {
  let t: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  beforeEach(() => {
    t = tempDir('sb-rotlock-');
    store = new SqliteStore({ path: path.join(t.dir, 'b.db') });
  });
  afterEach(async () => {
    await store.close();
    t.cleanup();
  });

  it('one of many concurrent takers wins; a held lock is refused until it expires; the token only grows', async () => {
    const r = store.rotations;
    const takes = await Promise.all(Array.from({ length: 20 }, (_, i) => r.takeRotationLock('k', `run-${i}`, 1000, 60_000)));
    const won = takes.filter((x) => x !== undefined);
    assert.equal(won.length, 1);
    assert.equal(won[0]!.token, 1);
    assert.equal(won[0]!.lockedUntil, 61_000);
    assert.equal(await r.takeRotationLock('k', 'late', 60_999, 60_000), undefined, 'held until its expiry');
    const next = await r.takeRotationLock('k', 'late', 61_000, 60_000);
    assert.equal(next!.token, 2, 'an expired lock is taken with a larger token');
    // The fence: only the current token, unexpired.
    assert.equal(await r.rotationFenceHolds('k', 1, 61_000), false);
    assert.equal(await r.rotationFenceHolds('k', 2, 61_000), true);
    assert.equal(await r.rotationFenceHolds('k', 2, 121_000), false, 'expired');
    // The stale holder's outcome is counted but does not free the current holder's lock.
    await r.finishRotation(won[0]!, 'failed', 62_000);
    let rec = await r.getRotation('k');
    assert.equal(rec!.holder, 'late');
    assert.equal(rec!.failed, 1);
    await r.finishRotation(next!, 'rotated', 63_000);
    rec = await r.getRotation('k');
    assert.equal(rec!.holder, undefined);
    assert.equal(rec!.lastRotatedAt, 63_000);
    assert.equal(rec!.rotated, 1);
    const again = await r.takeRotationLock('k', 'third', 63_000, 60_000);
    assert.equal(again!.token, 3);
    await r.releaseRotationLock(again!);
    assert.equal((await r.getRotation('k'))!.holder, undefined);
    assert.equal((await r.getRotation('k'))!.rotated, 1, 'a release records nothing');
  });

  it('a pending version is set only under the current token and cleared by a successful finish', async () => {
    const r = store.rotations;
    const a = (await r.takeRotationLock('pg', 'a', 0, 1000))!;
    assert.equal(await r.setPendingRotation('pg', a.token, 7, 10), true);
    assert.equal(await r.setPendingRotation('pg', a.token + 1, 8, 10), false);
    await r.finishRotation(a, 'failed', 20);
    assert.equal((await r.getRotation('pg'))!.pendingVersion, 7, 'a failed attempt leaves it for the next run');
    const b = (await r.takeRotationLock('pg', 'b', 30, 1000))!;
    await r.finishRotation(b, 'rotated', 40);
    assert.equal((await r.getRotation('pg'))!.pendingVersion, undefined);
  });

  it('an AWS rotation\'s progress (migration 15) is recorded only under the current, unexpired token, kept by a failed finish, cleared by a successful one', async () => {
    const r = store.rotations;
    const a = (await r.takeRotationLock('aws', 'a', 0, 1000))!;
    const p1 = { step: 'createSecret', pending: 'v-pending', from: 'v-current' } as const;
    assert.equal(await r.setRotationProgress('aws', a.token, p1, 10), true);
    assert.deepEqual((await r.getRotation('aws'))!.progress, p1);
    assert.equal(await r.setRotationProgress('aws', a.token + 1, { ...p1, step: 'setSecret' }, 10), false, 'another token');
    assert.equal(await r.setRotationProgress('aws', a.token, { ...p1, step: 'setSecret' }, 1000), false, 'an expired lock');
    assert.deepEqual((await r.getRotation('aws'))!.progress, p1);
    await r.finishRotation(a, 'failed', 20);
    assert.deepEqual((await r.getRotation('aws'))!.progress, p1, 'a failed attempt leaves it for the next run');
    const b = (await r.takeRotationLock('aws', 'b', 30, 1000))!;
    assert.equal(await r.setRotationProgress('aws', b.token, { ...p1, step: 'testSecret' }, 40), true);
    assert.equal((await r.getRotation('aws'))!.progress!.step, 'testSecret');
    await r.finishRotation(b, 'rotated', 50);
    assert.equal((await r.getRotation('aws'))!.progress, undefined);
    const c = (await r.takeRotationLock('aws', 'c', 60, 1000))!;
    await r.setRotationProgress('aws', c.token, p1, 70);
    assert.equal(await r.setRotationProgress('aws', c.token, undefined, 80), true);
    assert.equal((await r.getRotation('aws'))!.progress, undefined, 'cleared (an abandoned attempt)');
  });
});

describe('rotation.generator random', () => {
  it('draws length characters from the alphabet, every character reachable, never the same value twice', () => {
    const seen = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const v = generateValue({ kind: 'random', length: 40 });
      const s = v.revealString();
      v.wipe();
      assert.match(s, /^[A-Za-z0-9]{40}$/);
      seen.add(s);
      for (const c of s) chars.add(c);
    }
    assert.equal(seen.size, 200);
    assert.equal(chars.size, DEFAULT_ALPHABET.length);
    const hex = generateValue({ kind: 'random', length: 16, alphabet: '0123456789abcdef' });
    assert.match(hex.revealString(), /^[0-9a-f]{16}$/);
  });
});
