import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { RotateResponse__Output } from '../../src/gen/secretbroker/v1/RotateResponse';
import { openLocalBackend } from '../../src/backends/local';
import { ManualClock, systemClock } from '../../src/lib/clock';
import type { RotationHooks } from '../../src/rotation/rotation-service';
import { baseRawConfig, makeTestPki, REPO, startBroker, tempDir, type RunningBroker, type TestPki, cliEnv } from '../helpers/broker-harness';
import { readEntries } from '../helpers/evidence-entries';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { runCapture } from '../helpers/run-cli';
import { sharedPostgres } from '../helpers/ephemeral-postgres';
import { startVaultServer, type VaultServer } from '../vault-server/vault-server';
import { vaultCall } from '../vault-server/vault-client';

const TOKEN = 'hd_live_rot_4Kq9Lm2Xv7Tz1Wb8';
const CRM = 'crm_live_rot_8Pz3Qw6Ns1Hd5Yc2';

interface RotationEntry {
  type: string;
  secret: string;
  backend: string;
  operator: string;
  fencing_token: number;
  old_version: number | null;
  new_version: number | null;
  steps: string[];
  outcome: string;
  error?: string;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function localValue(raw: Record<string, unknown>, name: string, version?: number): Promise<{ value: string; version: number }> {
  const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
  const b = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
  try {
    const v = await b.get(name, version !== undefined ? { version } : {});
    const value = v.value.reveal().toString('utf8');
    v.value.wipe();
    return { value, version: v.version };
  } finally {
    await b.close();
  }
}

/** Every file under `dir` (state database, WAL, sealed store, config): none may hold a value in the clear. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe('Rotation through the daemon: local and Vault, fenced, recorded (real daemon over mTLS)', function () {
  this.timeout(90_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let upstream: HttpsUpstream;
  let vault: VaultServer;
  let raw: Record<string, unknown>;
  let env: NodeJS.ProcessEnv;
  let rootToken: string;
  const hooks: RotationHooks = {};
  /** Everything the CLI printed, scanned for values at the end. */
  const printed: string[] = [];
  const rotate = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const r = await runCapture(['rotate', ...args], '', env);
    printed.push(r.out, r.err);
    return r;
  };
  const vaultValue = async (): Promise<{ value: string; version: number }> => {
    const r = await vaultCall(vault, 'GET', 'secret/data/app/crm', { token: rootToken });
    const d = r.body!['data'] as { data: { value: string }; metadata: { version: number } };
    return { value: d.data.value, version: d.metadata.version };
  };

  before(async () => {
    tmp = tempDir('sb-rotation-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    vault = await startVaultServer({ postgres: await sharedPostgres() });
    rootToken = vault.rootToken;
    vault.putKv('secret', 'app/crm', { value: CRM });
    const { token } = vault.createToken({ paths: { 'secret/data/app/*': ['read', 'create', 'update'], 'secret/metadata/app/*': ['read'] }, ttl: '1h', renewable: true });
    const tokenFile = path.join(tmp.dir, 'vault-token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const vaultCa = path.join(tmp.dir, 'vault-ca.pem');
    writeFileSync(vaultCa, vault.caPem!);
    const caFile = writeCaBundle(tmp.dir, [upstream]);
    raw = baseRawConfig(pki, tmp.dir);
    const fast = { cache_ttl: '30s', timeout: '2s', breaker: { failures: 5, open_for: '300ms' } };
    raw['backends'] = {
      ...(raw['backends'] as object),
      vault: { kind: 'vault', address: vault.url, ca_file: vaultCa, token_file: tokenFile, ...fast },
      // A Vault that is down: nothing listens there.
      'vault-down': { kind: 'vault', address: `https://127.0.0.1:${await closedPort()}`, ca_file: vaultCa, token_file: tokenFile, ...fast },
    };
    const every = { every: '30d', generator: { kind: 'random', length: 32 } };
    raw['secrets'] = {
      'helpdesk-token': { backend: 'local', rotation: every },
      'crm-token': { backend: 'vault', name: 'app/crm', rotation: { every: '30d', generator: { kind: 'random', length: 24, alphabet: 'abcdefghjkmnpqrstuvwxyz23456789' } } },
      'ops-token': { backend: 'vault-down', name: 'app/ops', rotation: every },
    };
    (raw['actions'] as Record<string, { http: Record<string, unknown> }>)['tickets.update']!.http = {
      ...(raw['actions'] as Record<string, { http: Record<string, unknown> }>)['tickets.update']!.http,
      base_url: `https://helpdesk.test:${upstream.port}`,
      ca_files: [caFile],
    };
    await seedLocalSecrets(raw, { 'helpdesk-token': TOKEN });
    broker = await startBroker({ pki, dir: tmp.dir, raw, rotationHooks: hooks, resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']]])) });
    env = cliEnv(broker.addr, pki, 'operators', 'alice');
  });
  after(async () => {
    await broker?.close();
    await upstream?.close();
    await vault?.close();
    tmp?.cleanup();
  });

  const brokeredCall = async (): Promise<string> => {
    upstream.requests.length = 0;
    const res = await call<unknown, InvokeResponse__Output>(broker.clientFor('agents', 'support-bot').agent, 'Invoke', {
      action: 'tickets.update',
      resource: 'ticket/T-1',
      method: 'GET',
      path: '/tickets/T-1',
    });
    assert.ok(res.statusCode === 200 || res.statusCode === 401, `status ${res.statusCode}`);
    assert.equal(upstream.requests.length, 1);
    return String(upstream.requests[0]!.headers['authorization']);
  };

  it('--dry-run reports every never-rotated secret as due and changes nothing', async () => {
    const r = await rotate('--dry-run');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), [
      'would rotate crm-token: due: never rotated',
      'would rotate helpdesk-token: due: never rotated',
      'would rotate ops-token: due: never rotated',
    ]);
    assert.equal((await localValue(raw, 'helpdesk-token')).version, 1);
    assert.equal((await vaultValue()).version, 1);
  });

  it('a run rotates the local and Vault secrets, reports the down backend failed, exits 1; the next brokered call injects the new value', async () => {
    assert.equal(await brokeredCall(), `Bearer ${TOKEN}`, 'before: the seeded value (and now cached)');
    const r = await rotate();
    assert.equal(r.code, 1, `${r.out}\n${r.err}`);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 3, r.out);
    assert.match(lines[0]!, /^rotated crm-token: version 1 -> 2 \(fencing token 1, evidence index \d+\)$/);
    assert.match(lines[1]!, /^rotated helpdesk-token: version 1 -> 2 \(fencing token 1, evidence index \d+\)$/);
    assert.match(lines[2]!, /^failed ops-token: .*vault-down.*unavailable/);
    const local = await localValue(raw, 'helpdesk-token');
    assert.equal(local.version, 2);
    assert.notEqual(local.value, TOKEN);
    assert.match(local.value, /^[A-Za-z0-9]{32}$/);
    const crm = await vaultValue();
    assert.equal(crm.version, 2);
    assert.match(crm.value, /^[abcdefghjkmnpqrstuvwxyz23456789]{24}$/);
    // The cache (30 s) was dropped: the very next call carries the new version.
    assert.equal(await brokeredCall(), `Bearer ${local.value}`);
  });

  it('a second run finds nothing due (skipped, not failed) except the down backend, which still fails', async () => {
    const r = await rotate();
    assert.equal(r.code, 1);
    assert.match(r.out, /^skipped crm-token: not due until \d{4}-/m);
    assert.match(r.out, /^skipped helpdesk-token: not due until \d{4}-/m);
    assert.match(r.out, /^failed ops-token: /m);
    const narrowed = await rotate('--secret', 'helpdesk-token');
    assert.equal(narrowed.code, 0, 'nothing due in the narrowed run: exit 0');
    assert.match(narrowed.out, /^skipped helpdesk-token: not due/);
    assert.equal((await localValue(raw, 'helpdesk-token')).version, 2);
  });

  it('--force rotates a secret that is not due; --json prints one object per secret', async () => {
    const r = await rotate('--secret', 'helpdesk-token', '--force', '--json');
    assert.equal(r.code, 0, r.err);
    const objs = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(objs.length, 1);
    assert.equal(objs[0]!['secret'], 'helpdesk-token');
    assert.equal(objs[0]!['outcome'], 'rotated');
    assert.equal(objs[0]!['old_version'], 2);
    assert.equal(objs[0]!['new_version'], 3);
    assert.equal(objs[0]!['fencing_token'], 2);
    assert.equal(typeof objs[0]!['evidence_index'], 'number');
    assert.equal((await localValue(raw, 'helpdesk-token')).version, 3);
  });

  it('Vault: a write racing an outside writer is refused by check-and-set on the version read under the lock', async () => {
    let release!: () => void;
    let paused!: () => void;
    const isPaused = new Promise<void>((r) => (paused = r));
    const gate = new Promise<void>((r) => (release = r));
    hooks.beforeWrite = async (secret) => {
      if (secret !== 'crm-token') return;
      paused();
      await gate;
    };
    try {
      const run = rotate('--secret', 'crm-token', '--force');
      await isPaused;
      const outside = vault.putKv('secret', 'app/crm', { value: 'written-by-someone-else' });
      release();
      const r = await run;
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^failed crm-token: .*is no longer at version 2; nothing was written$/m);
      const now = await vaultValue();
      assert.equal(now.version, outside, 'the outside write stands; ours was not applied');
      assert.equal(now.value, 'written-by-someone-else');
    } finally {
      hooks.beforeWrite = undefined;
    }
    // The next forced run builds on the version it reads under its own lock.
    const again = await rotate('--secret', 'crm-token', '--force');
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /^rotated crm-token: version 3 -> 4 /);
  });

  it('an unknown secret or one without rotation is a clear usage error; an approver is refused (role rotator)', async () => {
    const r = await rotate('--secret', 'nope');
    assert.equal(r.code, 1);
    assert.match(r.err, /INVALID_ARGUMENT: secret: a configured secret name, got "nope"/);
    const bob = pki.layout.operators['bob']!;
    const denied = await runCapture(['rotate'], '', { ...env, SECRET_BROKER_CERT: bob.cert, SECRET_BROKER_KEY: bob.key });
    assert.equal(denied.code, 3, denied.err);
  });

  it('records one rotation entry per attempt (name, versions, token, steps, outcome), and the outcome counts', async () => {
    const entries = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((e) => e.type === 'rotation');
    const of = (s: string): RotationEntry[] => entries.filter((e) => e.secret === s);
    assert.deepEqual(of('helpdesk-token').map((e) => [e.outcome, e.old_version, e.new_version, e.fencing_token]), [['rotated', 1, 2, 1], ['rotated', 2, 3, 2]]);
    assert.deepEqual(of('helpdesk-token')[0]!.steps, ['locked', 'read', 'generated', 'written', 'cache dropped']);
    assert.equal(of('helpdesk-token')[0]!.operator, 'alice');
    assert.deepEqual(of('crm-token').map((e) => [e.outcome, e.old_version, e.new_version]), [['rotated', 1, 2], ['failed', 2, null], ['rotated', 3, 4]]);
    const ops = of('ops-token');
    assert.equal(ops.length, 2, 'each failed attempt is recorded');
    assert.ok(ops.every((e) => e.outcome === 'failed' && e.new_version === null && e.steps.join() === 'locked' && /unavailable/.test(e.error ?? '')));
    const counts = await broker.app.store.rotations!.listRotations();
    const row = (s: string) => counts.find((c) => c.secret === s)!;
    assert.equal(row('helpdesk-token').rotated, 2);
    assert.equal(row('ops-token').failed, 2);
    assert.equal(row('ops-token').rotated, 0);
    assert.equal(row('ops-token').lastRotatedAt, undefined);
    assert.ok(row('crm-token').lastRotatedAt! > 0);
    assert.equal(row('crm-token').holder, undefined, 'the lock is released');
  });

  it('no value appears in the rotate output, the daemon log, the evidence or the state files', async () => {
    const values = [TOKEN, CRM];
    for (let v = 2; v <= 3; v++) values.push((await localValue(raw, 'helpdesk-token', v)).value);
    values.push((await vaultValue()).value);
    assert.equal(new Set(values).size, values.length);
    const entries = (await readEntries(broker.app.ledger!)).map((e) => JSON.stringify(e)).join('\n');
    const files = filesUnder(tmp.dir).filter((f) => !f.includes(`${path.sep}pki${path.sep}`));
    assert.ok(files.some((f) => f.endsWith('broker.db')) && files.some((f) => f.endsWith('secrets.sealed')));
    for (const v of values) {
      assert.ok(!printed.join('\n').includes(v), 'rotate output');
      assert.ok(!broker.logs.text.includes(v), 'daemon log');
      assert.ok(!entries.includes(v), 'evidence');
      for (const f of files) assert.ok(!readFileSync(f).includes(Buffer.from(v)), `state file ${f}`);
    }
  });
});

describe('Rotation: two runs at once rotate each secret once; a paused rotator is fenced (fake clock)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let raw: Record<string, unknown>;
  let env: NodeJS.ProcessEnv;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const hooks: RotationHooks = {};

  before(async () => {
    tmp = tempDir('sb-rotation-fence-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    raw = baseRawConfig(pki, tmp.dir);
    const every = { every: '1d', generator: { kind: 'random', length: 20 } };
    raw['secrets'] = { k1: { backend: 'local', rotation: every }, k2: { backend: 'local', rotation: every }, k3: { backend: 'local', rotation: every } };
    raw['actions'] = {};
    raw['rotation'] = { lock_ttl: '1m' };
    await seedLocalSecrets(raw, { k1: 'seed-value-k1-xxxxxxxx', k2: 'seed-value-k2-xxxxxxxx', k3: 'seed-value-k3-xxxxxxxx' });
    broker = await startBroker({ pki, dir: tmp.dir, raw, clock, rotationHooks: hooks });
    env = cliEnv(broker.addr, pki, 'operators', 'alice');
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('two rotate runs started together rotate each secret exactly once, and both exit 0', async () => {
    const [a, b] = await Promise.all([runCapture(['rotate'], '', env), runCapture(['rotate'], '', env)]);
    assert.equal(a.code, 0, a.out + a.err);
    assert.equal(b.code, 0, b.out + b.err);
    const lines = `${a.out}${b.out}`.trim().split('\n');
    for (const k of ['k1', 'k2', 'k3']) {
      const rotated = lines.filter((l) => l.startsWith(`rotated ${k}:`));
      assert.equal(rotated.length, 1, `${k} rotated once:\n${lines.join('\n')}`);
      assert.match(rotated[0]!, /version 1 -> 2/);
      // The other run skipped it: the lock was held, or it was no longer due.
      assert.equal(lines.filter((l) => l.startsWith(`skipped ${k}:`)).length, 1, lines.join('\n'));
      assert.equal((await localValue(raw, k)).version, 2);
    }
    const entries = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((e) => e.type === 'rotation');
    assert.deepEqual(entries.map((e) => e.secret).sort(), ['k1', 'k2', 'k3']);
  });

  it("a rotator paused past its lock's expiry has its late write rejected by the fence", async () => {
    clock.advance(2 * 86_400_000); // all due again
    let release!: () => void;
    let paused!: () => void;
    const isPaused = new Promise<void>((r) => (paused = r));
    const gate = new Promise<void>((r) => (release = r));
    let armed = true;
    hooks.beforeWrite = async (secret) => {
      if (secret !== 'k1' || !armed) return;
      armed = false;
      paused();
      await gate;
    };
    const operator = broker.clientFor('operators', 'alice').operator;
    const late = call<unknown, RotateResponse__Output>(operator, 'Rotate', { secret: 'k1', dryRun: false, force: false });
    await isPaused;
    // While its lock is live, another run skips k1.
    const meanwhile = await runCapture(['rotate', '--secret', 'k1'], '', env);
    assert.equal(meanwhile.code, 0);
    assert.match(meanwhile.out, /^skipped k1: another rotation holds the lock until /);
    // Past the lock's expiry another run takes the lock (a larger token) and rotates.
    clock.advance(61_000);
    const other = await runCapture(['rotate', '--secret', 'k1', '--json'], '', env);
    assert.equal(other.code, 0, other.out + other.err);
    const o = JSON.parse(other.out) as { outcome: string; new_version: number; fencing_token: number };
    assert.equal(o.outcome, 'rotated');
    assert.equal(o.new_version, 3);
    const winner = await localValue(raw, 'k1');
    release();
    const res = (await late).results[0]!;
    assert.equal(res.outcome, 'failed');
    assert.match(res.detail, /rejected by the fence: token \d+ is no longer current/);
    assert.ok(Number(res.fencingToken) < o.fencing_token);
    const after = await localValue(raw, 'k1');
    assert.equal(after.version, 3, 'the late write was not applied');
    assert.equal(after.value, winner.value);
    const entries = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((e) => e.type === 'rotation' && e.secret === 'k1');
    const last = entries[entries.length - 1]!;
    assert.equal(last.outcome, 'failed');
    assert.equal(last.fencing_token, Number(res.fencingToken));
    assert.deepEqual(last.steps, ['locked', 'read', 'generated']);
    hooks.beforeWrite = undefined;
  });

  it('a lock left by a daemon that stopped mid-rotation is freed when the daemon starts again: the next run rotates at once', async () => {
    clock.advance(2 * 86_400_000); // all due again
    // The stopped daemon's lock: taken, never released (its process died).
    const left = await broker.app.store.rotations!.takeRotationLock('k2', 'dead-daemon', clock.now(), 3_600_000);
    assert.ok(left);
    const skipped = await runCapture(['rotate', '--secret', 'k2'], '', env);
    assert.match(skipped.out, /^skipped k2: another rotation holds the lock until /);
    await broker.close();
    broker = await startBroker({ pki, dir: tmp.dir, raw, clock, rotationHooks: hooks });
    env = { ...env, SECRET_BROKER_ADDR: broker.addr };
    assert.match(broker.logs.text, /rotation locks left by a daemon that stopped mid-rotation were released and recorded as interrupted/);
    // The stopped attempt never wrote its entry: the start records it, once, under its token.
    const interrupted = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((e) => e.type === 'rotation' && e.secret === 'k2' && e.outcome === 'interrupted');
    assert.equal(interrupted.length, 1);
    assert.equal(interrupted[0]!.fencing_token, left.token);
    assert.equal(interrupted[0]!.backend, 'local');
    assert.equal((await broker.app.store.rotations!.getRotation('k2'))?.lockedUntil, undefined, 'and the lock is free');
    const before = (await localValue(raw, 'k2')).version;
    const r = await runCapture(['rotate', '--secret', 'k2', '--json'], '', env);
    assert.equal(r.code, 0, r.out + r.err);
    const o = JSON.parse(r.out) as { outcome: string; new_version: number; fencing_token: number };
    assert.equal(o.outcome, 'rotated');
    assert.equal(o.new_version, before + 1);
    assert.ok(o.fencing_token > left.token, 'the token still grows: nothing of the stopped daemon can land');
  });

  it('two secret-broker rotate OS processes started together (as two cron jobs) rotate each secret exactly once', async function () {
    this.timeout(60_000);
    clock.advance(2 * 86_400_000); // all due again
    const before = await Promise.all(['k1', 'k2', 'k3'].map(async (k) => (await localValue(raw, k)).version));
    const main = path.join(REPO, 'src/main.ts');
    const runProcess = (): Promise<{ code: number | null; out: string; err: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, ['-r', 'tsx/cjs', main, 'rotate', '--json'], { env: { ...process.env, ...env }, cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => resolve({ code, out, err }));
      });
    const [a, b] = await Promise.all([runProcess(), runProcess()]);
    assert.equal(a.code, 0, a.out + a.err);
    assert.equal(b.code, 0, b.out + b.err);
    const objs = `${a.out}${b.out}`.trim().split('\n').map((l) => JSON.parse(l) as { secret: string; outcome: string; old_version?: number; new_version?: number });
    for (const [i, k] of ['k1', 'k2', 'k3'].entries()) {
      const rotated = objs.filter((o) => o.secret === k && o.outcome === 'rotated');
      assert.equal(rotated.length, 1, `${k}: ${JSON.stringify(objs)}`);
      assert.equal(rotated[0]!.old_version, before[i]);
      assert.equal(rotated[0]!.new_version, before[i]! + 1);
      assert.equal((await localValue(raw, k)).version, before[i]! + 1);
      assert.ok(objs.filter((o) => o.secret === k).every((o) => o.outcome === 'rotated' || o.outcome === 'skipped'));
    }
  });
});
