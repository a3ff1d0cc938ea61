import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../../../src/lib/clock';
import { SecretValue } from '../../../../src/lib/secret-value';
import { ensureMasterKey, loadMasterKey, MASTER_KEY_BYTES, openLocalBackend } from '../../../../src/backends/local';
import { expectBrokerError } from './local-fixture';

describe('local backend: master key file', () => {
  let dir: string;
  let keyFile: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'sb-key-'));
    keyFile = join(dir, 'var', 'master.key');
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('ensureMasterKey creates 32 random raw bytes with mode 0600, once', async () => {
    assert.deepEqual(await ensureMasterKey(keyFile), { created: true });
    const st = await fs.stat(keyFile);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, MASTER_KEY_BYTES);
    const first = await fs.readFile(keyFile);
    assert.ok(!first.equals(Buffer.alloc(32)));
    assert.deepEqual(await ensureMasterKey(keyFile), { created: false });
    assert.ok((await fs.readFile(keyFile)).equals(first), 'an existing key was replaced');
    assert.deepEqual(await fs.readdir(join(dir, 'var')), ['master.key']);
    assert.equal((await fs.stat(join(dir, 'var'))).mode & 0o777, 0o700);
  });

  it('the key is 0600 even under a permissive umask', async () => {
    const old = process.umask(0);
    try {
      await ensureMasterKey(keyFile);
    } finally {
      process.umask(old);
    }
    assert.equal((await fs.stat(keyFile)).mode & 0o777, 0o600);
  });

  it('racing creators agree on one key', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => ensureMasterKey(keyFile)));
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.deepEqual(await fs.readdir(join(dir, 'var')), ['master.key']);
    const key = await loadMasterKey(keyFile);
    assert.equal(key.length, 32);
  });

  it('loadMasterKey returns the file bytes', async () => {
    await ensureMasterKey(keyFile);
    assert.ok(Buffer.from(await loadMasterKey(keyFile)).equals(await fs.readFile(keyFile)));
  });

  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o660]) {
    it(`a key file with mode ${mode.toString(8)} is refused, unless dev mode allows it`, async () => {
      await ensureMasterKey(keyFile);
      await fs.chmod(keyFile, mode);
      const octal = `0${mode.toString(8)}`;
      const re = new RegExp(`master key file .*master\\.key is accessible by group or others \\(mode ${octal}\\); run \`chmod 600 `);
      await expectBrokerError(loadMasterKey(keyFile), 'failed_precondition', re);
      await expectBrokerError(ensureMasterKey(keyFile), 'failed_precondition', re);
      await expectBrokerError(
        openLocalBackend({ name: 'local', path: join(dir, 's.sealed'), keyFile, clock: systemClock }),
        'failed_precondition',
        re,
      );
      const warnings: string[] = [];
      const b = await openLocalBackend({
        name: 'local',
        path: join(dir, 's.sealed'),
        keyFile,
        clock: systemClock,
        allowInsecurePermissions: true,
        warn: (m) => warnings.push(m),
      });
      await b.put('k', SecretValue.fromString('v'));
      await b.close();
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /insecure mode .*dev mode/);
      assert.equal((await fs.stat(keyFile)).mode & 0o777, mode, 'the loader must not chmod the file');
    });
  }

  it('0400 is accepted', async () => {
    await ensureMasterKey(keyFile);
    await fs.chmod(keyFile, 0o400);
    assert.equal((await loadMasterKey(keyFile)).length, 32);
  });

  for (const [desc, content] of [
    ['empty', Buffer.alloc(0)],
    ['31 bytes', Buffer.alloc(31, 1)],
    ['33 bytes', Buffer.alloc(33, 1)],
    ['hex text', Buffer.from('ab'.repeat(32))],
    ['base64 text', Buffer.from(Buffer.alloc(32, 9).toString('base64'))],
  ] as const) {
    it(`a key file holding ${desc} is a clear error`, async () => {
      await fs.mkdir(join(dir, 'var'));
      await fs.writeFile(keyFile, content, { mode: 0o600 });
      const re = new RegExp(`master key file .*master\\.key must hold exactly 32 raw bytes \\(not hex or base64\\); it holds ${content.length}$`);
      await expectBrokerError(loadMasterKey(keyFile), 'failed_precondition', re);
      await expectBrokerError(ensureMasterKey(keyFile), 'failed_precondition', re);
    });
  }

  it('a missing key file names the path and the command that creates it', async () => {
    await expectBrokerError(loadMasterKey(keyFile), 'failed_precondition', /master key file .*master\.key does not exist; `secret-broker secrets put` creates it/);
  });

  it('a directory in place of the key is refused', async () => {
    await fs.mkdir(keyFile, { recursive: true });
    await expectBrokerError(loadMasterKey(keyFile), 'failed_precondition', /is not a regular file/);
  });

  it('a symlink to a good key is followed; the permission check applies to the target', async () => {
    const real = join(dir, 'real.key');
    await ensureMasterKey(real);
    await fs.mkdir(join(dir, 'var'));
    await fs.symlink(real, keyFile);
    assert.deepEqual(await ensureMasterKey(keyFile), { created: false });
    await fs.chmod(real, 0o644);
    await expectBrokerError(loadMasterKey(keyFile), 'failed_precondition', /accessible by group or others/);
  });

  it('a dangling symlink is reported, not written through', async () => {
    await fs.mkdir(join(dir, 'var'));
    await fs.symlink(join(dir, 'nowhere.key'), keyFile);
    await expectBrokerError(ensureMasterKey(keyFile), 'failed_precondition', /does not exist/);
    await assert.rejects(fs.stat(join(dir, 'nowhere.key')), { code: 'ENOENT' });
  });

  it('a lost key is not silently recreated when a sealed file exists', async () => {
    const sealed = join(dir, 'var', 'secrets.sealed');
    await ensureMasterKey(keyFile, { sealedFile: sealed });
    const b = await openLocalBackend({ name: 'local', path: sealed, keyFile, clock: systemClock });
    await b.put('k', SecretValue.fromString('v'));
    await b.close();
    await fs.rm(keyFile);
    await expectBrokerError(
      ensureMasterKey(keyFile, { sealedFile: sealed }),
      'failed_precondition',
      /master key file .*master\.key is missing but sealed file .*secrets\.sealed exists; restore the key file/,
    );
    await assert.rejects(fs.stat(keyFile), { code: 'ENOENT' });
  });
});
