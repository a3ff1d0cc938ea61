import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { Client as PgClient } from 'pg';
import { call, connect } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { rotationRequestToken } from '../../src/backends/aws/aws-rotation';
import type { RotationHooks } from '../../src/rotation/rotation-service';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki, cliEnv } from '../helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres, loginState } from '../helpers/ephemeral-postgres';
import { readEntries } from '../helpers/evidence-entries';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { setEnv, sharedMoto, useFakeAwsCredentials, type MotoServer } from '../helpers/moto-server';
import { runCapture } from '../helpers/run-cli';
import { rotateWithLockTakenOver } from '../helpers/rotation-takeover';
import { spawnDaemon, type DaemonProcess } from '../helpers/spawn-daemon';
import { until } from '../helpers/until';

const TOKEN = 'hd_live_awsrot_7Hn2Qx9Lp4Vb6Zt1';
const INITIAL = 'initial_aws_admin_pw_Qm83Lx2Vt7';

interface RotationEntry {
  type: string;
  secret: string;
  outcome: string;
  steps: string[];
  old_version: number | null;
  new_version: number | null;
  fencing_token: number;
  error?: string;
  reached?: string;
  pending_version?: string;
}

/** What AWS holds for a secret: the value under each label, and every version's labels. */
async function awsState(sm: SecretsManagerClient, id: string): Promise<{ current: { id: string; value: string }; previous?: { id: string; value: string }; labels: Record<string, string[]> }> {
  const read = async (stage: string) => {
    try {
      const o = await sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: stage }));
      return { id: o.VersionId!, value: o.SecretString! };
    } catch {
      return undefined;
    }
  };
  const list = await sm.send(new ListSecretVersionIdsCommand({ SecretId: id, IncludeDeprecated: true }));
  const labels: Record<string, string[]> = {};
  for (const v of list.Versions ?? []) labels[v.VersionId!] = [...(v.VersionStages ?? [])].sort();
  const previous = await read('AWSPREVIOUS');
  return { current: (await read('AWSCURRENT'))!, ...(previous ? { previous } : {}), labels };
}

const pendingLabels = (labels: Record<string, string[]>): string[] => Object.entries(labels).filter(([, l]) => l.includes('AWSPENDING')).map(([id]) => id);

describe('AWS Secrets Manager rotation in four steps (real moto_server, real daemon over mTLS)', function () {
  this.timeout(120_000);
  let moto: MotoServer;
  let sm: SecretsManagerClient;
  let restoreEnv: () => void;

  before(async () => {
    restoreEnv = useFakeAwsCredentials();
    moto = await sharedMoto();
    sm = new SecretsManagerClient({ region: 'eu-west-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  });
  after(() => {
    sm?.destroy();
    restoreEnv?.();
  });

  describe('a plain secret (no setSecret target), in process', () => {
    let tmp: ReturnType<typeof tempDir>;
    let pki: TestPki;
    let broker: RunningBroker;
    let upstream: HttpsUpstream;
    let env: NodeJS.ProcessEnv;
    const id = `sb-rot/helpdesk-${randomBytes(4).toString('hex')}`;
    const hooks: RotationHooks = {};
    const printed: string[] = [];
    const rotate = async (...args: string[]) => {
      const r = await runCapture(['rotate', ...args], '', env);
      printed.push(r.out, r.err);
      return r;
    };
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

    before(async () => {
      tmp = tempDir('sb-rot-aws-');
      pki = await makeTestPki(path.join(tmp.dir, 'pki'));
      upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
      await sm.send(new CreateSecretCommand({ Name: id, SecretString: TOKEN }));
      const caFile = writeCaBundle(tmp.dir, [upstream]);
      const raw = baseRawConfig(pki, tmp.dir);
      raw['backends'] = { ...(raw['backends'] as object), aws: { kind: 'aws-secrets-manager', region: 'eu-west-1', endpoint: moto.endpoint, cache_ttl: '30s', timeout: '5s' } };
      raw['secrets'] = { 'helpdesk-token': { backend: 'aws', id, rotation: { every: '30d', generator: { kind: 'random', length: 32 } } } };
      const actions = raw['actions'] as Record<string, { http: Record<string, unknown> }>;
      actions['tickets.update']!.http = { ...actions['tickets.update']!.http, base_url: `https://helpdesk.test:${upstream.port}`, ca_files: [caFile] };
      await seedLocalSecrets(raw, {});
      broker = await startBroker({ pki, dir: tmp.dir, raw, rotationHooks: hooks, resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']]])) });
      env = cliEnv(broker.addr, pki, 'operators', 'alice');
    });
    after(async () => {
      await broker?.close();
      await upstream?.close();
      tmp?.cleanup();
    });

    it('a full rotation: the new value is AWSCURRENT under a token derived from (secret, fencing token), the old one AWSPREVIOUS, no AWSPENDING left; the next brokered call injects it', async () => {
      assert.equal(await brokeredCall(), `Bearer ${TOKEN}`, 'before: the seeded value (and now cached for 30 s)');
      const before = await awsState(sm, id);
      const r = await rotate('--secret', 'helpdesk-token');
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /^rotated helpdesk-token: version 1 -> 2 \(fencing token 1, evidence index \d+\)$/m);
      const now = await awsState(sm, id);
      assert.match(now.current.value, /^[A-Za-z0-9]{32}$/);
      assert.notEqual(now.current.value, TOKEN);
      assert.equal(now.current.id, rotationRequestToken('aws', id, 1), 'the VersionId is the ClientRequestToken derived from (secret, fencing token 1)');
      assert.deepEqual(now.previous, before.current, 'the previous value is readable as AWSPREVIOUS');
      assert.deepEqual(pendingLabels(now.labels), [], 'no AWSPENDING left');
      assert.deepEqual(now.labels, { [before.current.id]: ['AWSPREVIOUS'], [now.current.id]: ['AWSCURRENT'] });
      assert.equal(await brokeredCall(), `Bearer ${now.current.value}`, 'the cache was dropped: the next call carries the new value');
      const e = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
      assert.deepEqual(
        e.map((x) => [x.secret, x.outcome, x.old_version, x.new_version, x.fencing_token, x.steps.join(',')]),
        [['helpdesk-token', 'rotated', 1, 2, 1, 'locked,read,generated,createSecret,setSecret (no target),testSecret (read back),finishSecret,cache dropped']],
      );
    });

    it('a concurrent run is skipped while another holds the lock; the holder completes', async () => {
      let release!: () => void;
      let paused!: () => void;
      const isPaused = new Promise<void>((r) => (paused = r));
      const gate = new Promise<void>((r) => (release = r));
      hooks.beforeWrite = async () => {
        paused();
        await gate;
      };
      try {
        const first = rotate('--secret', 'helpdesk-token', '--force');
        await isPaused;
        const second = await rotate('--secret', 'helpdesk-token', '--force');
        assert.equal(second.code, 0, second.out + second.err);
        assert.match(second.out, /^skipped helpdesk-token: another rotation holds the lock until \d{4}-/);
        assert.deepEqual(pendingLabels((await awsState(sm, id)).labels), [], 'the skipped run staged nothing');
        release();
        const r = await first;
        assert.equal(r.code, 0, r.out + r.err);
        assert.match(r.out, /^rotated helpdesk-token: version 2 -> 3 \(fencing token 2,/);
      } finally {
        hooks.beforeWrite = undefined;
      }
      assert.deepEqual(pendingLabels((await awsState(sm, id)).labels), []);
    });

    it('a run stopped after testSecret leaves AWSCURRENT alone; the next (not forced) resumes at finishSecret', async () => {
      const before = await awsState(sm, id);
      hooks.afterStep = async (_s, step) => {
        if (step === 'testSecret') throw new Error('stopped after testSecret (test)');
      };
      let r;
      try {
        r = await rotate('--secret', 'helpdesk-token', '--force');
      } finally {
        hooks.afterStep = undefined;
      }
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^failed helpdesk-token: /);
      const mid = await awsState(sm, id);
      assert.deepEqual(mid.current, before.current, 'AWSCURRENT did not move');
      const pending = rotationRequestToken('aws', id, 3);
      assert.deepEqual(pendingLabels(mid.labels), [pending], 'the new version waits as AWSPENDING');
      const rec = await broker.app.store.rotations!.getRotation('helpdesk-token');
      assert.deepEqual(rec!.progress, { step: 'testSecret', pending, from: before.current.id });
      const dry = await rotate('--dry-run');
      assert.match(dry.out, /^would rotate helpdesk-token: an interrupted rotation is pending/m);
      const next = await rotate('--secret', 'helpdesk-token');
      assert.equal(next.code, 0, next.out + next.err);
      assert.match(next.out, /^rotated helpdesk-token: version 3 -> 4 \(fencing token 4,/);
      const now = await awsState(sm, id);
      assert.equal(now.current.id, pending);
      assert.deepEqual(now.previous, before.current);
      assert.deepEqual(pendingLabels(now.labels), []);
      assert.equal((await broker.app.store.rotations!.getRotation('helpdesk-token'))!.progress, undefined);
      assert.equal(await brokeredCall(), `Bearer ${now.current.value}`);
      const e = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
      assert.deepEqual(e.slice(-2).map((x) => [x.outcome, x.steps.join(',')]), [
        ['failed', 'locked,read,generated,createSecret,setSecret (no target),testSecret (read back)'],
        ['rotated', 'locked,resumed after testSecret,finishSecret,cache dropped'],
      ]);
    });

    it('finishSecret is conditional: an outside write between read and finish is not overwritten; the next run starts afresh from it', async () => {
      hooks.afterStep = async (_s, step) => {
        if (step !== 'setSecret') return;
        // Another writer makes a new version current. (A plain PutSecretValue would do on AWS; moto's moves
        // AWSCURRENT from its stale default version after an UpdateSecretVersionStage, leaving two AWSCURRENT
        // labels, so the outside writer here stages its version and moves AWSCURRENT itself, as a rotation Lambda does.)
        const cur = await sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSCURRENT' }));
        const put = await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: 'written-by-someone-else', VersionStages: ['OUTSIDE'] }));
        await sm.send(new UpdateSecretVersionStageCommand({ SecretId: id, VersionStage: 'AWSCURRENT', MoveToVersionId: put.VersionId!, RemoveFromVersionId: cur.VersionId! }));
      };
      let r;
      try {
        r = await rotate('--secret', 'helpdesk-token', '--force');
      } finally {
        hooks.afterStep = undefined;
      }
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^failed helpdesk-token: .*AWSCURRENT of secret ".*" moved to another version since the rotation read it; nothing was made current/m);
      const mid = await awsState(sm, id);
      assert.equal(mid.current.value, 'written-by-someone-else', 'the outside write stands');
      assert.equal((await broker.app.store.rotations!.getRotation('helpdesk-token'))!.progress, undefined, 'the abandoned attempt is not resumed');
      const again = await rotate('--secret', 'helpdesk-token', '--force');
      assert.equal(again.code, 0, again.out + again.err);
      const now = await awsState(sm, id);
      assert.deepEqual(now.previous, mid.current, 'the new rotation built on the outside write');
      assert.deepEqual(pendingLabels(now.labels), [], 'the abandoned AWSPENDING moved to the new version and was removed with it');
    });

    it('no value appears in the rotate output, the daemon log or the evidence', async () => {
      const s = await awsState(sm, id);
      const values = [TOKEN, s.current.value, s.previous!.value];
      const entries = (await readEntries(broker.app.ledger!)).map((x) => JSON.stringify(x)).join('\n');
      for (const v of values) {
        for (const [where, text] of [['output', printed.join('\n')], ['log', broker.logs.text], ['evidence', entries]] as const) assert.ok(!text.includes(v), `a value in the ${where}`);
      }
    });

    it('AWSPENDING moved by another writer between setSecret and testSecret: the attempt fails and is abandoned, and the next run completes afresh', async () => {
      hooks.afterStep = async (_s, step) => {
        if (step !== 'setSecret') return;
        await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: 'staged-by-someone-else', VersionStages: ['AWSPENDING'] }));
      };
      let r;
      try {
        r = await rotate('--secret', 'helpdesk-token', '--force');
      } finally {
        hooks.afterStep = undefined;
      }
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^failed helpdesk-token: .*AWSPENDING of secret .* is no longer the version this rotation created; nothing was made current; the next run starts afresh/m);
      assert.equal((await broker.app.store.rotations!.getRotation('helpdesk-token'))!.progress, undefined, 'the abandoned attempt is not resumed');
      const again = await rotate('--secret', 'helpdesk-token', '--force');
      assert.equal(again.code, 0, again.out + again.err);
      const now = await awsState(sm, id);
      assert.deepEqual(pendingLabels(now.labels), [], 'no AWSPENDING left');
      assert.notEqual(now.current.value, 'staged-by-someone-else');
      assert.equal(await brokeredCall(), `Bearer ${now.current.value}`);
    });
  });

  describe('the admin URL of a PostgreSQL backend (target), in process: the broker keeps issuing while a rotation is part-way', () => {
    let tmp: ReturnType<typeof tempDir>;
    let pki: TestPki;
    let pg: EphemeralPostgres;
    let broker: RunningBroker;
    let env: NodeJS.ProcessEnv;
    const id = `sb-rot/appdb-inproc-${randomBytes(4).toString('hex')}`;
    const hooks: RotationHooks = {};
    const rotate = (...args: string[]) => runCapture(['rotate', ...args], '', env);
    /** A lease from the broker, and a query with it; the failure's text when there is none. */
    const grant = async (): Promise<string> => {
      try {
        const res = await call<unknown, LeaseResponse__Output>(broker.clientFor('agents', 'support-bot').agent, 'RequestLease', { action: 'analytics.query', ttlSeconds: 300 });
        if (res.status !== 'GRANTED') return `status ${res.status}: ${JSON.stringify(res.explanation)}`;
        const cred = res.lease!.databaseCredential!;
        const q = new PgClient({ host: '127.0.0.1', port: pg.port, database: pg.database, user: cred.user, password: cred.password, connectionTimeoutMillis: 5000 });
        q.on('error', () => undefined);
        await q.connect();
        const n = (await q.query('SELECT count(*)::int AS n FROM analytics.events')).rows[0].n as number;
        await q.end();
        return n === 1 ? 'ok' : `query returned ${n}`;
      } catch (err) {
        return String(err);
      }
    };
    /** Ends every admin connection the broker holds, so its next use opens a new one (with the URL it reads then). */
    const cutAdminConnections = async (): Promise<void> => {
      const su = new PgClient({ connectionString: pg.adminUrl });
      await su.connect();
      try {
        await su.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'secret-broker'");
      } finally {
        await su.end();
      }
    };

    before(async () => {
      tmp = tempDir('sb-rot-aws-inproc-');
      pki = await makeTestPki(path.join(tmp.dir, 'pki'));
      pg = await startEphemeralPostgres();
      const su = new PgClient({ connectionString: pg.adminUrl });
      await su.connect();
      await su.query(`CREATE ROLE broker_admin LOGIN SUPERUSER PASSWORD '${INITIAL}';
                      CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int); INSERT INTO analytics.events VALUES (1);`);
      await su.end();
      await sm.send(new CreateSecretCommand({ Name: id, SecretString: `postgres://broker_admin:${INITIAL}@127.0.0.1:${pg.port}/${pg.database}` }));
      const raw = baseRawConfig(pki, tmp.dir);
      raw['backends'] = {
        ...(raw['backends'] as object),
        aws: { kind: 'aws-secrets-manager', region: 'eu-west-1', endpoint: moto.endpoint, cache_ttl: '30s', timeout: '5s' },
        appdb: { kind: 'postgres', url_secret: { backend: 'aws', name: id }, timeout: '5s' },
      };
      raw['secrets'] = {
        'helpdesk-token': { backend: 'local' },
        'appdb-admin': { backend: 'aws', id, rotation: { every: '30d', generator: { kind: 'random', length: 32 }, target: { postgres: 'appdb' } } },
      };
      (raw['actions'] as Record<string, unknown>)['analytics.query'] = {
        postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m' },
        resource: 'analytics',
      };
      writeFileSync(path.join(raw['policies'] as string, 'analytics.cedar'), `@id("analytics-support")\n@reason("test")\npermit (principal in Group::"support", action == Action::"analytics.query", resource);\n`);
      await seedLocalSecrets(raw, { 'helpdesk-token': TOKEN });
      broker = await startBroker({ pki, dir: tmp.dir, raw, rotationHooks: hooks, sweeper: { intervalMs: 3_600_000, graceMs: 120_000 } });
      env = cliEnv(broker.addr, pki, 'operators', 'alice');
    });
    after(async () => {
      await broker?.close();
      await pg?.close();
      tmp?.cleanup();
    });

    it('paused between setSecret and finishSecret: new admin connections log in with the AWSPENDING URL', async () => {
      assert.equal(await grant(), 'ok', 'before the rotation');
      let during: string | undefined;
      let currentRefused: string | null | undefined;
      hooks.afterStep = async (_s, step) => {
        if (step !== 'setSecret') return;
        // The password was ALTERed; AWSCURRENT still holds the old URL, which no longer logs in.
        currentRefused = await loginState((await sm.send(new GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSCURRENT' }))).SecretString!);
        await cutAdminConnections();
        during = await grant();
      };
      let r;
      try {
        r = await rotate('--secret', 'appdb-admin');
      } finally {
        hooks.afterStep = undefined;
      }
      assert.equal(r.code, 0, r.out + r.err);
      assert.equal(currentRefused, '28P01', 'the ALTER happened before the pause');
      assert.equal(during, 'ok', 'a lease issued while the rotation was paused after setSecret, on a new admin connection');
      await cutAdminConnections();
      assert.equal(await grant(), 'ok', 'after finishSecret');
    });

    it('stopped after setSecret: until the next run finishes it, new admin connections log in with the AWSPENDING URL', async () => {
      hooks.afterStep = async (_s, step) => {
        if (step === 'setSecret') throw new Error('stopped after setSecret (test)');
      };
      let r;
      try {
        r = await rotate('--secret', 'appdb-admin', '--force');
      } finally {
        hooks.afterStep = undefined;
      }
      assert.equal(r.code, 1, r.out);
      const mid = await awsState(sm, id);
      assert.equal(await loginState(mid.current.value), '28P01', 'AWSCURRENT no longer logs in');
      assert.equal(pendingLabels(mid.labels).length, 1);
      await cutAdminConnections();
      assert.equal(await grant(), 'ok', 'a lease issued after the stopped run, on a new admin connection');
      assert.equal(await grant(), 'ok', 'and the next one');
      const next = await rotate('--secret', 'appdb-admin');
      assert.equal(next.code, 0, next.out + next.err);
      await cutAdminConnections();
      assert.equal(await grant(), 'ok', 'after the next run finished it');
    });

    it('the lock lost while the ALTER ROLE connection was being opened: the fence, checked after the connect, stops the ALTER; the next run resumes and completes', async () => {
      const before = await awsState(sm, id);
      const rotations = broker.app.store.rotations!;
      const { result: r, taken } = await rotateWithLockTakenOver(rotations, hooks, 'afterAdminConnect', () => rotate('--secret', 'appdb-admin', '--force'));
      assert.ok(taken, 'the lock was taken over while the connection was opened');
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^failed appdb-admin: .*rejected by the fence/m);
      assert.match(r.out, /the current value is unchanged, and the pending version this run stored stays for the next run/);
      const mid = await awsState(sm, id);
      assert.deepEqual(mid.current, before.current, 'AWSCURRENT did not move');
      assert.equal(await loginState(mid.current.value), null, 'no ALTER: the current password still logs in');
      const [pending] = pendingLabels(mid.labels);
      const pendingUrl = (await sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: pending! }))).SecretString!;
      assert.equal(await loginState(pendingUrl), '28P01', 'the pending one does not');
      assert.equal((await rotations.getRotation('appdb-admin'))!.progress?.step, 'createSecret', 'setSecret was not recorded');
      const next = await rotate('--secret', 'appdb-admin');
      assert.equal(next.code, 0, next.out + next.err);
      const now = await awsState(sm, id);
      assert.equal(now.current.id, pending);
      assert.equal(await loginState(now.current.value), null);
      assert.equal(await loginState(before.current.value), '28P01');
      await cutAdminConnections();
      assert.equal(await grant(), 'ok');
    });

    it('the lock lost after setSecret ALTERed the password, before finishSecret: the fenced failure says the password was set; the next run resumes and completes', async () => {
      const rotations = broker.app.store.rotations!;
      const { result: r, taken } = await rotateWithLockTakenOver(rotations, hooks, { step: 'testSecret' }, () => rotate('--secret', 'appdb-admin', '--force'));
      assert.ok(taken);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^failed appdb-admin: .*rejected by the fence.*the new admin password was set in the database \(the stored current value no longer logs in\); the next run completes the rotation/m);
      assert.equal(await loginState((await awsState(sm, id)).current.value), '28P01', 'the ALTER happened; AWSCURRENT did not move');
      const next = await rotate('--secret', 'appdb-admin');
      assert.equal(next.code, 0, next.out + next.err);
      assert.equal(await loginState((await awsState(sm, id)).current.value), null);
      await cutAdminConnections();
      assert.equal(await grant(), 'ok');
    });

    it('AWSPENDING moved by another writer after setSecret ALTERed the password: the run finishes with its own version, which logs in, so the broker is not locked out', async () => {
      const before = await awsState(sm, id);
      const other = `postgres://broker_admin:staged_by_someone_else@127.0.0.1:${pg.port}/${pg.database}`;
      let ours: string | undefined;
      hooks.afterStep = async (_s, step) => {
        if (step !== 'setSecret') return;
        [ours] = pendingLabels((await awsState(sm, id)).labels);
        await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: other, VersionStages: ['AWSPENDING'] }));
      };
      let r;
      try {
        r = await rotate('--secret', 'appdb-admin', '--force');
      } finally {
        hooks.afterStep = undefined;
      }
      assert.ok(ours, 'the hook saw this run\'s pending version');
      assert.equal(r.code, 0, r.out + r.err);
      const now = await awsState(sm, id);
      assert.equal(now.current.id, ours, 'AWSCURRENT moved to this run\'s version');
      assert.deepEqual(now.previous, before.current);
      assert.equal(await loginState(now.current.value), null, 'AWSCURRENT logs in');
      assert.equal(await loginState(before.current.value), '28P01');
      const [theirs] = pendingLabels(now.labels);
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: theirs! }))).SecretString, other, 'the other writer\'s AWSPENDING is left alone');
      const e = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((x) => x.type === 'rotation' && x.secret === 'appdb-admin');
      assert.equal(e.at(-1)!.outcome, 'rotated');
      assert.ok(e.at(-1)!.steps.includes('testSecret (appdb: fresh login; AWSPENDING was moved by another writer)'), e.at(-1)!.steps.join(','));
      await cutAdminConnections();
      assert.equal(await grant(), 'ok', 'the broker still issues database leases');
      const next = await rotate('--secret', 'appdb-admin', '--force');
      assert.equal(next.code, 0, next.out + next.err);
      assert.equal(await loginState((await awsState(sm, id)).current.value), null, 'and the next run rotates again');
    });

    it('AWSPENDING moved and neither our version nor the previous one logs in (the password changed by hand, or the database down): progress is kept, not abandoned, and the next run finishes once ours logs in', async () => {
      let ours: string | undefined;
      const su = async (sql: string): Promise<void> => {
        const c = new PgClient({ connectionString: pg.adminUrl });
        await c.connect();
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      };
      hooks.afterStep = async (_s, step) => {
        if (step !== 'setSecret') return;
        [ours] = pendingLabels((await awsState(sm, id)).labels);
        await sm.send(new PutSecretValueCommand({ SecretId: id, SecretString: `postgres://broker_admin:x@127.0.0.1:${pg.port}/${pg.database}`, VersionStages: ['AWSPENDING'] }));
        await su(`ALTER ROLE broker_admin PASSWORD 'set_by_hand_${randomBytes(6).toString('hex')}'`);
      };
      let r;
      try {
        r = await rotate('--secret', 'appdb-admin', '--force');
      } finally {
        hooks.afterStep = undefined;
      }
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /^failed appdb-admin: .*a login with the pending admin URL failed; the next run tries again/m);
      assert.equal((await broker.app.store.rotations!.getRotation('appdb-admin'))!.progress?.step, 'setSecret', 'kept: our version may be the one the database has');
      // The password is ours again (a database back, an operator's undo): the next run finishes with our version.
      const oursUrl = (await sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: ours! }))).SecretString!;
      await su(`ALTER ROLE broker_admin PASSWORD '${decodeURIComponent(new URL(oursUrl).password)}'`);
      const next = await rotate('--secret', 'appdb-admin');
      assert.equal(next.code, 0, next.out + next.err);
      assert.equal((await awsState(sm, id)).current.id, ours);
      assert.equal(await loginState(oursUrl), null);
    });
  });

  describe('the admin URL of a PostgreSQL backend (target), with the daemon killed (SIGKILL) between steps', () => {
    let tmp: ReturnType<typeof tempDir>;
    let pki: TestPki;
    let pg: EphemeralPostgres;
    let daemon: DaemonProcess | undefined;
    let raw: Record<string, unknown>;
    let env: NodeJS.ProcessEnv;
    let initialUrl: string;
    const id = `sb-rot/appdb-admin-${randomBytes(4).toString('hex')}`;
    const LOCK_TTL_MS = 4000;
    const printed: string[] = [];

    const start = async (stopAt?: string): Promise<DaemonProcess> => {
      const restore = setEnv({ SB_CHILD_STOP_AT: stopAt });
      try {
        daemon = await spawnDaemon({ ...raw, __dir: tmp.dir });
      } finally {
        restore();
      }
      env = cliEnv(`127.0.0.1:${daemon.port}`, pki, 'operators', 'alice');
      return daemon;
    };
    /** Starts a rotation in a daemon that stops at `step`, and kills it with SIGKILL there. */
    const killedAt = async (step: string): Promise<void> => {
      const d = await start(step);
      const run = runCapture(['rotate', '--secret', 'appdb-admin', '--force'], '', env);
      await until(`the daemon reaching ${step}`, () => d.stderr().includes(`stopped at ${step}`), 60_000);
      await d.crash();
      assert.equal(d.child.signalCode, 'SIGKILL');
      const r = await run;
      printed.push(r.out, r.err);
      assert.notEqual(r.code, 0, 'the CLI saw the daemon die');
      // The dead run's lock expires before the next run can take it.
      await new Promise((res) => setTimeout(res, LOCK_TTL_MS + 200));
    };
    const rotateNext = async () => {
      const d = await start();
      const r = await runCapture(['rotate', '--secret', 'appdb-admin'], '', env);
      printed.push(r.out, r.err);
      return { r, d };
    };
    const grantWorks = async (): Promise<void> => {
      const e = pki.layout.agents['support-bot']!;
      const c = connect({ addr: env['SECRET_BROKER_ADDR']!, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) });
      try {
        const res = await call<unknown, LeaseResponse__Output>(c.agent, 'RequestLease', { action: 'analytics.query', ttlSeconds: 300 });
        assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
        const cred = res.lease!.databaseCredential!;
        const q = new PgClient({ host: '127.0.0.1', port: pg.port, database: pg.database, user: cred.user, password: cred.password, connectionTimeoutMillis: 5000 });
        q.on('error', () => undefined);
        await q.connect();
        assert.equal((await q.query('SELECT count(*)::int AS n FROM analytics.events')).rows[0].n, 1);
        await q.end();
      } finally {
        c.close();
      }
    };

    before(async () => {
      tmp = tempDir('sb-rot-aws-pg-');
      pki = await makeTestPki(path.join(tmp.dir, 'pki'));
      pg = await startEphemeralPostgres();
      const su = new PgClient({ connectionString: pg.adminUrl });
      await su.connect();
      await su.query(`CREATE ROLE broker_admin LOGIN SUPERUSER PASSWORD '${INITIAL}';
                      CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int); INSERT INTO analytics.events VALUES (1);`);
      await su.end();
      initialUrl = `postgres://broker_admin:${INITIAL}@127.0.0.1:${pg.port}/${pg.database}`;
      await sm.send(new CreateSecretCommand({ Name: id, SecretString: initialUrl }));
      raw = baseRawConfig(pki, tmp.dir);
      raw['backends'] = {
        ...(raw['backends'] as object),
        aws: { kind: 'aws-secrets-manager', region: 'eu-west-1', endpoint: moto.endpoint, cache_ttl: '30s', timeout: '5s' },
        appdb: { kind: 'postgres', url_secret: { backend: 'aws', name: id }, timeout: '5s' },
      };
      raw['secrets'] = {
        'helpdesk-token': { backend: 'local' },
        'appdb-admin': { backend: 'aws', id, rotation: { every: '30d', generator: { kind: 'random', length: 32 }, target: { postgres: 'appdb' } } },
      };
      raw['rotation'] = { lock_ttl: `${LOCK_TTL_MS / 1000}s` };
      (raw['actions'] as Record<string, unknown>)['analytics.query'] = {
        postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m' },
        resource: 'analytics',
      };
      writeFileSync(path.join(raw['policies'] as string, 'analytics.cedar'), `@id("analytics-support")\n@reason("test")\npermit (principal in Group::"support", action == Action::"analytics.query", resource);\n`);
      await seedLocalSecrets(raw, { 'helpdesk-token': TOKEN });
    });
    after(async () => {
      await daemon?.stop();
      await pg?.close();
      tmp?.cleanup();
    });

    it('killed after createSecret: AWSCURRENT and the database untouched; the next run sets, tests and finishes it', async () => {
      const before = await awsState(sm, id);
      await killedAt('createSecret');
      const mid = await awsState(sm, id);
      assert.deepEqual(mid.current, before.current, 'AWSCURRENT did not move');
      const pending = rotationRequestToken('aws', id, 1);
      assert.deepEqual(pendingLabels(mid.labels), [pending]);
      const pendingUrl = (await sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: pending }))).SecretString!;
      assert.equal(await loginState(initialUrl), null, 'the database still has the old password');
      assert.equal(await loginState(pendingUrl), '28P01', 'and not the new one yet');

      const { r, d } = await rotateNext();
      assert.equal(r.code, 0, r.out + r.err + d.stderr());
      assert.match(r.out, /^rotated appdb-admin: version 1 -> 2 \(fencing token 2,/);
      const now = await awsState(sm, id);
      assert.equal(now.current.id, pending);
      assert.equal(now.current.value, pendingUrl);
      assert.deepEqual(now.previous, before.current, 'the old URL is AWSPREVIOUS');
      assert.deepEqual(pendingLabels(now.labels), [], 'no AWSPENDING left');
      assert.equal(await loginState(now.current.value), null, 'the new password logs in');
      assert.equal(await loginState(initialUrl), '28P01', 'the old one no longer does');
      await grantWorks();
      await d.stop();
    });

    it('killed after setSecret: the database has the new password, AWS not yet; the next run tests and finishes without a second ALTER', async () => {
      const before = await awsState(sm, id);
      await killedAt('setSecret');
      const mid = await awsState(sm, id);
      assert.deepEqual(mid.current, before.current);
      const pending = rotationRequestToken('aws', id, 3);
      assert.deepEqual(pendingLabels(mid.labels), [pending]);
      const pendingUrl = (await sm.send(new GetSecretValueCommand({ SecretId: id, VersionId: pending }))).SecretString!;
      assert.equal(await loginState(before.current.value), '28P01', 'the ALTER happened: the current URL no longer logs in');
      assert.equal(await loginState(pendingUrl), null);

      const { r, d } = await rotateNext();
      assert.equal(r.code, 0, r.out + r.err + d.stderr());
      assert.match(r.out, /^rotated appdb-admin: version 2 -> 3 \(fencing token 4,/);
      const now = await awsState(sm, id);
      assert.equal(now.current.id, pending);
      assert.deepEqual(now.previous, before.current);
      assert.deepEqual(pendingLabels(now.labels), []);
      assert.equal(await loginState(now.current.value), null);
      // The broker opens new admin connections with the new URL (its cache of it was dropped).
      await grantWorks();
      await d.stop();
    });

    it('records each attempt: a killed one is recorded interrupted (with the step it reached) when the daemon starts again, and the completing runs resume after that step', async () => {
      const broker = await startBroker({ pki, dir: tmp.dir, raw });
      try {
        const e = (await readEntries<RotationEntry>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
        assert.deepEqual(e.map((x) => [x.outcome, x.fencing_token, x.old_version, x.new_version, x.steps.join(','), x.reached ?? null]), [
          ['interrupted', 1, null, null, '', 'createSecret'],
          ['rotated', 2, 1, 2, 'locked,resumed after createSecret,setSecret (appdb: password set),testSecret (appdb: fresh login),finishSecret,cache dropped', null],
          ['interrupted', 3, null, null, '', 'setSecret'],
          ['rotated', 4, 2, 3, 'locked,resumed after setSecret,testSecret (appdb: fresh login),finishSecret,cache dropped', null],
        ]);
        // The interrupted attempt names the version it staged AWSPENDING: the one its resuming run made current.
        assert.equal(e[0]!.pending_version, rotationRequestToken('aws', id, 1));
        assert.equal(e[2]!.pending_version, rotationRequestToken('aws', id, 3));
        const text = [printed.join('\n'), e.map((x) => JSON.stringify(x)).join('\n'), broker.logs.text].join('\n');
        const s = await awsState(sm, id);
        for (const url of [initialUrl, s.current.value, s.previous!.value]) assert.ok(!text.includes(new URL(url).password), 'a password leaked');
      } finally {
        await broker.close();
      }
    });
  });
});
