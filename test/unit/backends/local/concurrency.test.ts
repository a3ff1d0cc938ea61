import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../../src/lib/clock';
import { SecretValue } from '../../../../src/lib/secret-value';
import type { LocalSecretBackend } from '../../../../src/backends/local';
import { expectBrokerError, makeFixture, type Fixture } from './local-fixture';

/** Reads back every version of `name` and checks they are exactly 1..n holding exactly `expected`. */
async function assertAllVersions(b: LocalSecretBackend, name: string, expected: string[]): Promise<void> {
  const latest = await b.get(name);
  assert.equal(latest.version, expected.length, 'a version was lost');
  const seen: string[] = [];
  for (let v = 1; v <= latest.version; v++) seen.push((await b.get(name, { version: v })).value.revealString());
  assert.deepEqual([...seen].sort(), [...expected].sort());
}

interface Worker {
  ready: Promise<void>;
  go(): void;
  done: Promise<number[]>;
}

/** Starts put-worker.ts in its own process; it puts only after `go()`. */
function startWorker(fx: Fixture, name: string, label: string, count: number): Worker {
  const worker = join(__dirname, 'put-worker.ts');
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), worker, fx.path, fx.keyFile, name, label, String(count)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) onReady();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out.slice('ready\n'.length)) as number[])
        : reject(new Error(`worker ${label} exited ${code}: ${err}`)),
    );
  });
  return { ready, go: () => child.stdin.end('go\n'), done };
}

/** A pid that certainly belongs to no running process: one that just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('local backend: concurrent writers lose no version', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await makeFixture();
  });
  afterEach(() => fx.cleanup());

  it('Promise.all of 20 puts on one instance: versions 1..20, each exactly once', async () => {
    const b = await fx.open();
    const values = Array.from({ length: 20 }, (_, i) => `v-${i}`);
    const got = await Promise.all(values.map((v) => b.put('k', SecretValue.fromString(v))));
    assert.deepEqual(got.map((r) => r.version).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
    await assertAllVersions(b, 'k', values);
  });

  it('Promise.all of 20 puts over three instances (the lock file, not the in-process queue)', async () => {
    const bs = [await fx.open(), await fx.open(), await fx.open()];
    const values = Array.from({ length: 20 }, (_, i) => `w-${i}`);
    const got = await Promise.all(values.map((v, i) => bs[i % 3]!.put('k', SecretValue.fromString(v))));
    assert.deepEqual(new Set(got.map((r) => r.version)).size, 20);
    await assertAllVersions(bs[0]!, 'k', values);
    assert.deepEqual((await fs.readdir(join(fx.dir, 'var'))).sort(), ['master.key', 'secrets.sealed']);
  });

  it('interleaved puts to many names keep every name and version', async () => {
    const b = await fx.open();
    const other = await fx.open();
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? b : other).put(`n${i % 5}`, SecretValue.fromString(`n${i % 5}-${i}`))),
    );
    const rows = await b.list();
    assert.deepEqual(rows.map((r) => [r.name, r.version]), [['n0', 6], ['n1', 6], ['n2', 6], ['n3', 6], ['n4', 6]]);
  });

  it('two child processes putting at once lose no version', async function () {
    this.timeout(60_000);
    const b = await fx.open();
    await b.put('k', SecretValue.fromString('seed'));
    const n = 25;
    const workers = [startWorker(fx, 'k', 'a', n), startWorker(fx, 'k', 'c', n)];
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();
    const [a, c] = await Promise.all(workers.map((w) => w.done));
    assert.equal(new Set([...a!, ...c!]).size, 2 * n);
    // Each worker's own versions rise; had the workers run one after the other, each would be a contiguous run.
    const interleaved = a!.some((v, i) => i > 0 && v !== a![i - 1]! + 1);
    const expected = ['seed', ...Array.from({ length: n }, (_, i) => `a-${i}`), ...Array.from({ length: n }, (_, i) => `c-${i}`)];
    await assertAllVersions(b, 'k', expected);
    assert.deepEqual((await fs.readdir(join(fx.dir, 'var'))).sort(), ['master.key', 'secrets.sealed']);
    if (!interleaved) this.test!.title += ' (note: the workers did not overlap on this run)';
  });
});

describe('local backend: the write lock', () => {
  let fx: Fixture;
  let lockPath: string;
  beforeEach(async () => {
    fx = await makeFixture();
    lockPath = `${fx.path}.lock`;
    const b = await fx.open();
    await b.put('k', SecretValue.fromString('v1'));
  });
  afterEach(() => fx.cleanup());

  it('a live holder makes a writer wait, then fail unavailable, naming the holder; nothing is written', async () => {
    const before = await fs.readFile(fx.path);
    // This process is alive, so a lock naming its pid is never stale.
    await fs.writeFile(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), token: 't', created_at: Date.now() }));
    const b = await fx.open({ lockTimeoutMs: 150 });
    await expectBrokerError(
      b.put('k', SecretValue.fromString('v2')),
      'unavailable',
      new RegExp(`is locked by pid ${process.pid} on host .*; if no secret-broker process is running there, remove .*secrets\\.sealed\\.lock`),
    );
    assert.ok((await fs.readFile(fx.path)).equals(before));
    // reads do not take the lock
    assert.equal((await b.get('k')).value.revealString(), 'v1');
    await fs.rm(lockPath);
    assert.equal((await b.put('k', SecretValue.fromString('v2'))).version, 2);
  });

  it('a waiting writer proceeds as soon as the holder releases', async () => {
    await fs.writeFile(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), token: 't', created_at: Date.now() }));
    const b = await fx.open({ lockTimeoutMs: 5000 });
    const pending = b.put('k', SecretValue.fromString('v2'));
    await new Promise((r) => setTimeout(r, 100));
    await fs.rm(lockPath);
    assert.equal((await pending).version, 2);
  });

  it('a lock left by a dead process on this host is broken', async () => {
    await fs.writeFile(lockPath, JSON.stringify({ pid: deadPid(), host: hostname(), token: 't', created_at: Date.now() }));
    const b = await fx.open({ lockTimeoutMs: 150 });
    assert.equal((await b.put('k', SecretValue.fromString('v2'))).version, 2);
    await assert.rejects(fs.stat(lockPath), { code: 'ENOENT' });
  });

  it('many waiters racing to break one stale lock still lose no version', async () => {
    await fs.writeFile(lockPath, JSON.stringify({ pid: deadPid(), host: hostname(), token: 't', created_at: Date.now() }));
    const bs = await Promise.all(Array.from({ length: 4 }, () => fx.open()));
    const got = await Promise.all(Array.from({ length: 12 }, (_, i) => bs[i % 4]!.put('k', SecretValue.fromString(`r-${i}`))));
    assert.equal(new Set(got.map((r) => r.version)).size, 12);
    await assertAllVersions(bs[0]!, 'k', ['v1', ...Array.from({ length: 12 }, (_, i) => `r-${i}`)]);
  });

  it('a lock from another host is honoured until it is older than lockStaleMs by the clock', async () => {
    const clock = new ManualClock(Date.now());
    await fs.writeFile(lockPath, JSON.stringify({ pid: 1, host: 'elsewhere.invalid', token: 't', created_at: clock.now() }));
    const b = await fx.open({ lockTimeoutMs: 100, lockStaleMs: 30_000, clock });
    await expectBrokerError(b.put('k', SecretValue.fromString('v2')), 'unavailable', /locked by pid 1 on host elsewhere\.invalid/);
    clock.advance(30_001);
    assert.equal((await b.put('k', SecretValue.fromString('v2'))).version, 2);
  });

  it('an unreadable (half-written) lock is broken once its mtime is older than lockStaleMs', async () => {
    await fs.writeFile(lockPath, '');
    const b = await fx.open({ lockTimeoutMs: 100, lockStaleMs: 60_000 });
    await expectBrokerError(b.put('k', SecretValue.fromString('v2')), 'unavailable', /locked by an unknown process/);
    const old = new Date(Date.now() - 120_000);
    await fs.utimes(lockPath, old, old);
    assert.equal((await b.put('k', SecretValue.fromString('v2'))).version, 2);
  });

  it('a .break file left by a dead waiter is cleared; a live one makes writers wait, not spin', async () => {
    const stale = JSON.stringify({ pid: deadPid(), host: hostname(), token: 't', created_at: Date.now() });
    await fs.writeFile(lockPath, stale);
    await fs.writeFile(`${lockPath}.break`, JSON.stringify({ pid: process.pid, host: hostname(), token: 'break', created_at: Date.now() }));
    const b = await fx.open({ lockTimeoutMs: 150 });
    await expectBrokerError(b.put('k', SecretValue.fromString('v2')), 'unavailable', /is locked by pid/);
    await fs.writeFile(`${lockPath}.break`, stale);
    assert.equal((await b.put('k', SecretValue.fromString('v2'))).version, 2);
    assert.deepEqual((await fs.readdir(join(fx.dir, 'var'))).sort(), ['master.key', 'secrets.sealed']);
  });

  it('temp files a crashed writer left behind are removed by the next put', async () => {
    const orphan = `${fx.path}.tmp-0123456789abcdef`;
    const unrelated = `${fx.path}.tmp-keepme`;
    await fs.writeFile(orphan, 'partial');
    await fs.writeFile(unrelated, 'x');
    const b = await fx.open();
    await b.put('k', SecretValue.fromString('v2'));
    await assert.rejects(fs.stat(orphan), { code: 'ENOENT' });
    await fs.stat(unrelated);
  });
});
