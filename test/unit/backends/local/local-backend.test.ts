import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { ManualClock } from '../../../../src/lib/clock';
import { SecretValue } from '../../../../src/lib/secret-value';
import { canList, canPut } from '../../../../src/backends/backend';
import { expectBrokerError, makeFixture, readJson, type Fixture } from './local-fixture';

// What every static backend must do (current + 1 versions, put keeps the caller's value,
// use after close is unavailable, ...) is in test/contract/secret-backend-contract.ts,
// run for this store by test/contract/local-secret-backend.test.ts. Here: what is local's own.
describe('local backend: put, get, versions, list', () => {
  let fx: Fixture;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  beforeEach(async () => {
    fx = await makeFixture(clock);
  });
  afterEach(() => fx.cleanup());

  it('is a writable, listable static backend', async () => {
    const b = await fx.open();
    assert.equal(b.kind, 'local');
    assert.equal(b.type, 'static');
    assert.equal(b.name, 'local');
    assert.ok(canPut(b) && canList(b));
  });

  it('starts empty: list is [] and get is not_found, and nothing is written', async () => {
    const b = await fx.open();
    assert.deepEqual(await b.list(), []);
    await expectBrokerError(b.get('missing'), 'not_found', /secret "missing" in backend "local" not found/);
    await assert.rejects(fs.stat(fx.path), { code: 'ENOENT' });
  });

  it('put adds integer versions 1..n, get returns the latest or the one asked for', async () => {
    const b = await fx.open();
    assert.deepEqual(await b.put('api/token', SecretValue.fromString('one')), { version: 1, createdAt: clock.now() });
    clock.advance(1000);
    assert.equal((await b.put('api/token', SecretValue.fromString('two'))).version, 2);
    assert.equal((await b.put('other.key', SecretValue.fromString('x'))).version, 1);
    clock.advance(1000);
    assert.equal((await b.put('api/token', SecretValue.fromString('three'))).version, 3);

    const latest = await b.get('api/token');
    assert.equal(latest.version, 3);
    assert.equal(latest.value.revealString(), 'three');
    assert.equal(latest.createdAt, clock.now());
    for (const [v, text] of [[1, 'one'], [2, 'two'], [3, 'three']] as const) {
      const got = await b.get('api/token', { version: v });
      assert.equal(got.version, v);
      assert.equal(got.value.revealString(), text);
    }
    await expectBrokerError(b.get('api/token', { version: 4 }), 'not_found', /version 4 of secret "api\/token"/);
  });

  it('keeps every version in the file and across reopen', async () => {
    const b = await fx.open();
    for (let i = 1; i <= 5; i++) await b.put('k', SecretValue.fromString(`v${i}`));
    await b.close();
    const doc = await readJson(fx.path);
    assert.deepEqual(doc.secrets.k!.map((e) => e.version), [1, 2, 3, 4, 5]);
    const again = await fx.open();
    for (let i = 1; i <= 5; i++) assert.equal((await again.get('k', { version: i })).value.revealString(), `v${i}`);
  });

  it('list gives names sorted with integer current versions and no values', async () => {
    const b = await fx.open();
    await b.put('zeta', SecretValue.fromString('z1'));
    await b.put('alpha', SecretValue.fromString('a1'));
    await b.put('zeta', SecretValue.fromString('z2'));
    const rows = await b.list();
    assert.deepEqual(rows.map((r) => [r.name, r.version]), [['alpha', 1], ['zeta', 2]]);
    for (const r of rows) {
      assert.ok(Number.isInteger(r.version));
      assert.deepEqual(Object.keys(r).sort(), ['createdAt', 'name', 'version']);
    }
    assert.ok(!JSON.stringify(rows).includes('z2'));
  });

  it('handles binary values and values up to maxValueBytes', async () => {
    const b = await fx.open({ maxValueBytes: 1024 });
    const bin = Buffer.from([0, 1, 2, 255, 0, 10, 13]);
    await b.put('bin', SecretValue.fromBytes(bin));
    assert.ok((await b.get('bin')).value.reveal().equals(bin));
    await b.put('max', SecretValue.fromBytes(Buffer.alloc(1024, 7)));
    await expectBrokerError(b.put('big', SecretValue.fromBytes(Buffer.alloc(1025, 7))), 'invalid_argument', /^value: must be at most 1024 bytes$/);
    await expectBrokerError(b.put('empty', SecretValue.fromString('')), 'invalid_argument', /^value: must not be empty$/);
  });

  it('names: validates the documented pattern with an error naming the field, without echoing the name', async () => {
    const b = await fx.open();
    for (const good of ['a', 'A9', 'db/prod/admin-password', 'x.y_z-1', `a${'b'.repeat(127)}`, 'constructor', 'toString']) {
      await b.put(good, SecretValue.fromString('v'));
      assert.equal((await b.get(good)).version, 1);
    }
    for (const bad of ['', '.hidden', '/abs', '-x', '_x', 'has space', 'semi;colon', 'nul\0byte', 'ü', `a${'b'.repeat(128)}`, '__proto__']) {
      const err = await expectBrokerError(b.put(bad, SecretValue.fromString('v')), 'invalid_argument', /^name: must be 1 to 128 characters/);
      if (bad.length > 2) assert.ok(!err.message.includes(bad));
      await expectBrokerError(b.get(bad), 'invalid_argument', /^name: /);
    }
    await expectBrokerError(b.get('a', { version: 0 }), 'invalid_argument', /^version: must be a positive integer$/);
    await expectBrokerError(b.get('a', { version: 1.5 }), 'invalid_argument', /^version: /);
    await expectBrokerError(b.get('a', { field: 'x' }), 'invalid_argument', /^field: /);
  });

  it('writes the sealed file 0600 in the documented format, leaving no temp or lock files', async () => {
    const b = await fx.open();
    await b.put('k', SecretValue.fromString('v'));
    assert.equal((await fs.stat(fx.path)).mode & 0o777, 0o600);
    const doc = await readJson(fx.path);
    assert.equal(doc.format, 'secret-broker/local-sealed');
    assert.equal(doc.format_version, 1);
    assert.equal(doc.aead, 'xchacha20poly1305-ietf');
    assert.match(String(doc.store_id), /^[A-Za-z0-9_-]{22}$/);
    const e = doc.secrets.k![0]!;
    assert.deepEqual(Object.keys(e).sort(), ['ciphertext', 'created_at', 'nonce', 'version']);
    assert.equal(Buffer.from(String(e.nonce), 'base64').length, 24);
    assert.equal(Buffer.from(String(e.ciphertext), 'base64').length, 1 + 16);
    assert.deepEqual((await fs.readdir(fx.dir + '/var')).sort(), ['master.key', 'secrets.sealed']);
  });

  it('uses a fresh nonce for every version, even for equal values', async () => {
    const b = await fx.open();
    for (let i = 0; i < 10; i++) await b.put('same', SecretValue.fromString('same-value'));
    const doc = await readJson(fx.path);
    const nonces = new Set(doc.secrets.same!.map((e) => e.nonce));
    const cts = new Set(doc.secrets.same!.map((e) => e.ciphertext));
    assert.equal(nonces.size, 10);
    assert.equal(cts.size, 10);
  });

  it('health passes on an empty and a populated store', async () => {
    const b = await fx.open();
    await b.health();
    await b.put('k', SecretValue.fromString('v'));
    await b.health();
  });
});
