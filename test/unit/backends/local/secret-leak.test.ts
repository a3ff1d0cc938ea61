import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { BrokerError } from '../../../../src/lib/errors';
import { SecretValue } from '../../../../src/lib/secret-value';
import { ensureMasterKey, openLocalBackend } from '../../../../src/backends/local';
import { assertNoLeak, encodingsOf, makeFixture, readJson, uniqueSecret, type Fixture } from './local-fixture';

/** Checks every printable face of an error, including its cause chain. */
function assertErrorClean(err: unknown, plain: string, what: string): void {
  assert.ok(err instanceof BrokerError, `${what}: expected a BrokerError, got ${inspect(err)}`);
  for (const [face, text] of [
    ['message', err.message],
    ['String()', String(err)],
    ['stack', String(err.stack)],
    ['util.inspect', inspect(err, { depth: 10, showHidden: true })],
    ['JSON', JSON.stringify(err)],
  ] as const) {
    assertNoLeak(text, plain, `${what}: ${face}`);
    assert.ok(!/ciphertext cannot be decrypted|libsodium/i.test(text), `${what}: ${face} carries libsodium text`);
  }
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

describe('local backend: secret bytes never leak', () => {
  let fx: Fixture;
  let plain: string;
  beforeEach(async () => {
    fx = await makeFixture();
    plain = uniqueSecret();
    const b = await fx.open();
    await b.put('target', SecretValue.fromString(plain));
    await b.put('target', SecretValue.fromString(`${plain}-2`));
    await b.put('neighbour', SecretValue.fromString(plain));
  });
  afterEach(() => fx.cleanup());

  it('the self-check finds each encoding when it is present', () => {
    for (const form of encodingsOf(plain)) assert.throws(() => assertNoLeak(`xx${form}yy`, plain, 'probe'));
    assert.throws(() => assertNoLeak(Buffer.from(`a${plain}b`), plain, 'probe'));
  });

  it('the sealed file holds no raw, base64 or hex form of any value', async () => {
    const bytes = await fs.readFile(fx.path);
    assertNoLeak(bytes, plain, 'sealed file');
    assertNoLeak(bytes, `${plain}-2`, 'sealed file');
    // the ciphertext is exactly value length + tag, so nothing else rides along
    const doc = await readJson(fx.path);
    assert.equal(Buffer.from(String(doc.secrets.target![0]!.ciphertext), 'base64').length, Buffer.byteLength(plain) + 16);
  });

  it('no file in the store directory holds the value', async () => {
    for (const f of await fs.readdir(join(fx.dir, 'var'))) assertNoLeak(await fs.readFile(join(fx.dir, 'var', f)), plain, f);
  });

  // A returned SecretValue printing as [REDACTED]: see test/contract/secret-backend-contract.ts.

  it('wrong master key: open, get and put fail cleanly and the file is unchanged', async () => {
    const before = await fs.readFile(fx.path);
    const otherKey = join(fx.dir, 'other.key');
    await ensureMasterKey(otherKey);
    const err = await failure(openLocalBackend({ name: 'local', path: fx.path, keyFile: otherKey, clock: { now: () => 0 } }));
    assertErrorClean(err, plain, 'wrong key at open');
    assert.equal((err as BrokerError).kind, 'failed_precondition');
    assert.match((err as BrokerError).message, /master key .*other\.key is not the key sealed file .*secrets\.sealed was sealed with/);

    // Past the key check too: forge key_check to match the wrong key, so each AEAD open fails.
    const wrong = await openLocalBackend({ name: 'local', path: join(fx.dir, 'probe.sealed'), keyFile: otherKey, clock: { now: () => 0 } });
    await wrong.put('p', SecretValue.fromString('p'));
    const forgedCheck = (await readJson(join(fx.dir, 'probe.sealed'))).key_check;
    const doc = await readJson(fx.path);
    doc.key_check = forgedCheck;
    await fs.writeFile(fx.path, JSON.stringify(doc));
    const b = await openLocalBackend({ name: 'local', path: fx.path, keyFile: otherKey, clock: { now: () => 0 } });
    try {
      const e = await failure(b.get('target', { version: 1 }));
      assertErrorClean(e, plain, 'wrong key at get');
      assert.equal((e as BrokerError).kind, 'internal');
    } finally {
      await b.close();
      await wrong.close();
    }
    await fs.writeFile(fx.path, before);

    // A backend opened on an empty path before another process sealed the file with the right key.
    const latePath = join(fx.dir, 'late.sealed');
    const late = await openLocalBackend({ name: 'local', path: latePath, keyFile: otherKey, clock: { now: () => 0 } });
    try {
      await fs.copyFile(fx.path, latePath);
      const e = await failure(late.put('target', SecretValue.fromString(plain)));
      assertErrorClean(e, plain, 'wrong key at put');
      assert.equal((e as BrokerError).kind, 'failed_precondition');
      assert.ok((await fs.readFile(latePath)).equals(before), 'put with the wrong key changed the file');
    } finally {
      await late.close();
    }
    const b2 = await fx.open();
    assert.equal((await b2.get('target', { version: 1 })).value.revealString(), plain);
  });

  it('tampered ciphertext: the error is clean', async () => {
    const doc = await readJson(fx.path);
    const ct = Buffer.from(String(doc.secrets.target![0]!.ciphertext), 'base64');
    ct[ct.length - 1]! ^= 0x80;
    doc.secrets.target![0]!.ciphertext = ct.toString('base64');
    await fs.writeFile(fx.path, JSON.stringify(doc));
    const b = await fx.open();
    assertErrorClean(await failure(b.get('target', { version: 1 })), plain, 'tampered ciphertext');
  });

  it('moved ciphertext: the error is clean', async () => {
    const doc = await readJson(fx.path);
    doc.secrets.neighbour = [{ ...doc.secrets.target![0]! }];
    await fs.writeFile(fx.path, JSON.stringify(doc));
    const b = await fx.open();
    assertErrorClean(await failure(b.get('neighbour')), plain, 'moved ciphertext');
  });

  it('corrupt file: errors from open, get, list and put are clean', async () => {
    const good = await fs.readFile(fx.path);
    // Splice the plaintext itself into the broken file: even then no error may quote it.
    await fs.writeFile(fx.path, Buffer.concat([good.subarray(0, 40), Buffer.from(`"${plain}"`), randomBytes(16)]));
    assertErrorClean(await failure(fx.open()), plain, 'corrupt at open');
    await fs.writeFile(fx.path, good);
    const b = await fx.open();
    await fs.writeFile(fx.path, Buffer.from(`{"format": "${plain}"`));
    for (const [what, call] of [
      ['get', () => b.get('target')],
      ['list', () => b.list()],
      ['put', () => b.put('target', SecretValue.fromString(plain))],
      ['health', () => b.health()],
    ] as const) {
      assertErrorClean(await failure(call()), plain, `corrupt at ${what}`);
    }
  });

  it('invalid arguments never echo a would-be secret', async () => {
    const b = await fx.open();
    assertErrorClean(await failure(b.put(plain.replace(/-/g, ' '), SecretValue.fromString('x'))), plain.replace(/-/g, ' '), 'bad name');
    assertErrorClean(await failure(b.get(`${plain} `)), `${plain} `, 'bad name on get');
  });
});
