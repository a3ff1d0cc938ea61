import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { associatedData, keyCheck, loadSodium, open, seal } from '../../../../src/backends/local/sealing';
import { SECRET_NAME_PATTERN } from '../../../../src/backends/local/secret-name';

const nameArb = fc.stringMatching(SECRET_NAME_PATTERN);
const versionArb = fc.integer({ min: 1, max: 1_000_000 });
const storeArb = fc.stringMatching(/^[A-Za-z0-9_-]{22}$/);

describe('local sealing primitives', () => {
  it('seal/open round-trips any value and fails under any other (store, name, version)', async () => {
    const s = await loadSodium();
    const key = s.crypto_aead_xchacha20poly1305_ietf_keygen();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 256 }),
        fc.tuple(storeArb, nameArb, versionArb),
        fc.tuple(storeArb, nameArb, versionArb),
        (plain, a, b) => {
          const sealed = seal(s, key, plain, associatedData(...a));
          assert.deepEqual(open(s, key, sealed, associatedData(...a)), plain);
          const same = a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
          assert.equal(open(s, key, sealed, associatedData(...b)) === null, !same);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('associated data is injective over (store, name, version)', () => {
    fc.assert(
      fc.property(fc.tuple(storeArb, nameArb, versionArb), fc.tuple(storeArb, nameArb, versionArb), (a, b) => {
        const same = a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
        assert.equal(Buffer.from(associatedData(...a)).equals(Buffer.from(associatedData(...b))), same);
      }),
    );
    assert.equal(Buffer.from(associatedData('S'.repeat(22), 'db/pw', 3)).toString(), `secret-broker/local/v1\0${'S'.repeat(22)}\0db/pw\x003`);
  });

  it('a wrong key does not open, and the key check tells keys apart', async () => {
    const s = await loadSodium();
    const k1 = s.crypto_aead_xchacha20poly1305_ietf_keygen();
    const k2 = s.crypto_aead_xchacha20poly1305_ietf_keygen();
    const ad = associatedData('A'.repeat(22), 'n', 1);
    assert.equal(open(s, k2, seal(s, k1, Buffer.from('v'), ad), ad), null);
    assert.equal(keyCheck(s, k1).length, 32);
    assert.deepEqual(keyCheck(s, k1), keyCheck(s, Uint8Array.from(k1)));
    assert.notDeepEqual(keyCheck(s, k1), keyCheck(s, k2));
  });
});
