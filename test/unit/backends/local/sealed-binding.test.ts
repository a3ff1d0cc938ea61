import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SecretValue } from '../../../../src/lib/secret-value';
import { openLocalBackend } from '../../../../src/backends/local';
import { expectBrokerError, makeFixture, readJson, type Fixture } from './local-fixture';

/** Rewrites the sealed file through `edit`, the way an attacker with write access could. */
async function editFile(path: string, edit: (doc: Awaited<ReturnType<typeof readJson>>) => void): Promise<void> {
  const doc = await readJson(path);
  edit(doc);
  await fs.writeFile(path, JSON.stringify(doc));
}

const sealedFields = (e: Record<string, unknown>): { nonce: unknown; ciphertext: unknown } => ({
  nonce: e.nonce,
  ciphertext: e.ciphertext,
});

describe('local backend: a sealed value is bound to its store, name and version', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await makeFixture();
    const b = await fx.open();
    await b.put('alpha', SecretValue.fromString('alpha-v1'));
    await b.put('alpha', SecretValue.fromString('alpha-v2'));
    await b.put('beta', SecretValue.fromString('beta-v1'));
  });
  afterEach(() => fx.cleanup());

  it('untouched values open', async () => {
    const b = await fx.open();
    assert.equal((await b.get('alpha', { version: 1 })).value.revealString(), 'alpha-v1');
    assert.equal((await b.get('beta')).value.revealString(), 'beta-v1');
  });

  it('ciphertext + nonce copied from name A to an existing name B fails to open', async () => {
    await editFile(fx.path, (doc) => {
      Object.assign(doc.secrets.beta![0]!, sealedFields(doc.secrets.alpha![0]!));
    });
    const b = await fx.open();
    const err = await expectBrokerError(b.get('beta'), 'internal', /version 1 of secret "beta" .* failed authentication/);
    assert.ok(err.message.includes(fx.path));
    // the source slot is unaffected
    assert.equal((await b.get('alpha', { version: 1 })).value.revealString(), 'alpha-v1');
  });

  it('an entry copied to a new name fails to open', async () => {
    await editFile(fx.path, (doc) => {
      doc.secrets.gamma = [{ ...doc.secrets.alpha![0]! }];
    });
    const b = await fx.open();
    assert.deepEqual((await b.list()).map((r) => r.name), ['alpha', 'beta', 'gamma']);
    await expectBrokerError(b.get('gamma'), 'internal', /failed authentication/);
  });

  it('version 1 moved into the version 2 slot fails to open (a rollback to an old value)', async () => {
    await editFile(fx.path, (doc) => {
      Object.assign(doc.secrets.alpha![1]!, sealedFields(doc.secrets.alpha![0]!));
    });
    const b = await fx.open();
    await expectBrokerError(b.get('alpha'), 'internal', /version 2 of secret "alpha" .* failed authentication/);
    await expectBrokerError(b.get('alpha', { version: 2 }), 'internal', /failed authentication/);
    assert.equal((await b.get('alpha', { version: 1 })).value.revealString(), 'alpha-v1');
  });

  it('swapping two versions fails for both', async () => {
    await editFile(fx.path, (doc) => {
      const [v1, v2] = doc.secrets.alpha!;
      const s1 = sealedFields(v1!);
      Object.assign(v1!, sealedFields(v2!));
      Object.assign(v2!, s1);
    });
    const b = await fx.open();
    await expectBrokerError(b.get('alpha', { version: 1 }), 'internal', /failed authentication/);
    await expectBrokerError(b.get('alpha', { version: 2 }), 'internal', /failed authentication/);
  });

  it('an entry copied into another store sealed with the same key fails to open', async () => {
    const otherPath = join(fx.dir, 'var', 'other.sealed');
    const other = await openLocalBackend({ name: 'other', path: otherPath, keyFile: fx.keyFile, clock: { now: () => Date.now() } });
    try {
      await other.put('alpha', SecretValue.fromString('other-alpha'));
      const source = await readJson(fx.path);
      await editFile(otherPath, (doc) => {
        Object.assign(doc.secrets.alpha![0]!, sealedFields(source.secrets.alpha![0]!));
      });
      await expectBrokerError(other.get('alpha'), 'internal', /failed authentication/);
    } finally {
      await other.close();
    }
  });

  it('a single flipped ciphertext byte fails to open', async () => {
    await editFile(fx.path, (doc) => {
      const ct = Buffer.from(String(doc.secrets.beta![0]!.ciphertext), 'base64');
      ct[0]! ^= 1;
      doc.secrets.beta![0]!.ciphertext = ct.toString('base64');
    });
    const b = await fx.open();
    await expectBrokerError(b.get('beta'), 'internal', /failed authentication/);
  });

  it('a changed store_id makes every value fail to open', async () => {
    await editFile(fx.path, (doc) => {
      doc.store_id = 'AAAAAAAAAAAAAAAAAAAAAA';
    });
    const b = await fx.open();
    await expectBrokerError(b.get('alpha'), 'internal', /failed authentication/);
    await expectBrokerError(b.get('beta'), 'internal', /failed authentication/);
  });
});
