/**
 * Dynamic PostgreSQL credentials: leases issued and revoked per second over
 * gRPC (RequestLease on a `postgres` action, then RevokeLease, evidence on,
 * the broker in its own process), against a plain `pg` loop that runs the same
 * statements on the same PostgreSQL in the same run: compute the SCRAM
 * verifier, CREATE ROLE with the attributes and the GRANTs (one transaction);
 * then NOLOGIN, terminate the role's sessions, DROP OWNED, DROP ROLE. Both at
 * the same concurrency (default 8). Goal: the broker at >= 0.7 of the plain loop.
 *
 * Two PostgreSQL settings are measured, in alternating rounds on the same
 * server: `durable`, PostgreSQL's own defaults (fsync, synchronous_commit and
 * full_page_writes on), as a server that holds real data runs and as the
 * broker's own state and evidence store runs (every grant is fdatasync'ed
 * before it is answered); and `no-fsync`, the test suite's throwaway settings
 * (all three off), where only the broker pays for durability. The goal is
 * judged on `durable`; both are printed.
 *
 *   npx tsx bench/postgres-leases.ts [--seconds 5] [--concurrency 8] [--warmup 5] [--rounds 3] [--settings durable,no-fsync]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { ensureMasterKey, openLocalBackend } from '../src/backends/local';
import { scramSha256Verifier } from '../src/backends/postgres';
import { call, connect } from '../src/client/grpc-client';
import { systemClock } from '../src/lib/clock';
import { SecretValue } from '../src/lib/secret-value';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { startEphemeralPostgres } from '../test/helpers/ephemeral-postgres';
import { arg, closedLoop, cpuSeconds, printTable, type RunStats } from './bench-lib';
import { createRoleSql, dropRolesSql, noLoginSql } from '../src/backends/postgres/role-sql';
import { spawnServer } from './spawn-server';

const GRANTS = [{ privilege: 'SELECT' as const, schema: 'analytics' }];

/** The server settings each measured configuration runs with (ALTER SYSTEM, then a reload: all three are reloadable). */
const SETTINGS: Record<string, Record<string, string>> = {
  durable: { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' },
  'no-fsync': { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
};

function listArg(name: string, fallback: string[]): string[] {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? String(process.argv[i + 1]).split(',') : fallback;
}

function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const concurrency = arg('concurrency', 8);
  const warmup = arg('warmup', 5);
  const rounds = arg('rounds', 3);
  const configs = listArg('settings', Object.keys(SETTINGS));
  for (const c of configs) if (!SETTINGS[c]) throw new Error(`--settings: expected some of ${Object.keys(SETTINGS).join(', ')}, got ${JSON.stringify(c)}`);
  const tmp = tempDir('sb-bench-pg-');
  // shared_buffers as PostgreSQL ships it (the test clusters use 16MB); the durability settings are set per round.
  const pg = await startEphemeralPostgres({ settings: ['max_connections = 200', 'shared_buffers = 128MB'] });
  const setup = new Pool({ connectionString: pg.adminUrl, max: 1 });
  await setup.query('CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int)');
  await setup.end();

  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const raw = baseRawConfig(pki, tmp.dir, { log_level: 'warn', limits: { requests_per_second: 100000, burst: 100000, active_leases: 1000000, max_body_bytes: 65536 } });
  const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
  raw['backends'] = { local, appdb: { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' } } };
  raw['secrets'] = {};
  raw['actions'] = { 'analytics.query': { postgres: { backend: 'appdb', grants: GRANTS, ttl: '5m' }, resource: 'analytics' } };
  writeFileSync(path.join(String(raw['policies']), 'bench.cedar'), `@id("bench-pg")\npermit (principal in Group::"support", action == Action::"analytics.query", resource);\n`);
  await ensureMasterKey(local.key_file, { sealedFile: local.path });
  const store = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
  await store.put('appdb-admin', SecretValue.fromString(pg.adminUrl));
  await store.close();
  const broker = await spawnServer('broker', { ...raw, __dir: tmp.dir });
  const a = pki.layout.agents['support-bot']!;
  const client = connect({ addr: `127.0.0.1:${broker.port}`, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(a.cert), keyPem: readFileSync(a.key) });

  // The broker: one lease issued (a new role) and revoked (the role dropped) per op.
  let issueLat: number[] = [];
  let revokeLat: number[] = [];
  const viaBroker = async (): Promise<void> => {
    const t = performance.now();
    const r = await call<unknown, { status: string; lease: { leaseId: string } }>(client.agent, 'RequestLease', { action: 'analytics.query', ttlSeconds: 300 });
    issueLat.push(performance.now() - t);
    if (r.status !== 'GRANTED') throw new Error(`not granted: ${r.status}`);
    const tr = performance.now();
    const out = await call<unknown, { lease: { status: string } }>(client.agent, 'RevokeLease', { leaseId: r.lease.leaseId });
    revokeLat.push(performance.now() - tr);
    if (out.lease.status !== 'REVOKED') throw new Error(`revoke: ${out.lease.status}`);
  };

  // The baseline: the same statements through pg, the same pool size per worker count.
  const pool = new Pool({ connectionString: pg.adminUrl, max: concurrency });
  const db = pg.database;
  let plainIssueLat: number[] = [];
  let plainRevokeLat: number[] = [];
  const plain = async (): Promise<void> => {
    const role = `sb_${randomBytes(16).toString('hex')}`;
    const t = performance.now();
    const password = SecretValue.fromString(randomBytes(32).toString('base64url'));
    const verifier = await scramSha256Verifier(password);
    await pool.query(createRoleSql({ role, verifier, database: db, validUntil: Date.now() + 300_000, connectionLimit: 2, statementTimeoutMs: 30_000, grants: GRANTS }));
    plainIssueLat.push(performance.now() - t);
    const tr = performance.now();
    const c = await pool.connect();
    try {
      await c.query(noLoginSql([role]));
      await c.query(dropRolesSql([role]));
    } finally {
      c.release();
    }
    plainRevokeLat.push(performance.now() - tr);
  };

  const configure = async (name: string): Promise<void> => {
    const c = await pool.connect();
    try {
      for (const [k, v] of Object.entries(SETTINGS[name]!)) await c.query(`ALTER SYSTEM SET ${k} = '${v}'`);
      await c.query('SELECT pg_reload_conf()');
      // Every backend reads the file again before its next statement; wait until this one has.
      for (let i = 0; i < 100; i++) {
        const now = (await c.query<{ fsync: string }>('SHOW fsync')).rows[0]?.fsync;
        if (now === SETTINGS[name]!['fsync']) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      c.release();
    }
  };

  // A daemon runs warm: the broker's JIT keeps compiling for seconds after it starts.
  await configure(configs[0]!);
  await closedLoop('warmup broker', viaBroker, { seconds: warmup, concurrency });
  await closedLoop('warmup plain', plain, { seconds: warmup, concurrency });
  const rows: RunStats[] = [];
  const issue: Record<string, number[]> = {};
  const revoke: Record<string, number[]> = {};
  // CPU milliseconds per operation, by process: this bench (client), the broker, PostgreSQL.
  const cpu: Record<string, { ops: number; client: number; broker: number; brokerSys: number; postgres: number }> = {};
  const measured = async (key: string, label: string, fn: () => Promise<void>): Promise<RunStats> => {
    const snap = (): number[] => [process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6, cpuSeconds({ pid: broker.child.pid! }), cpuSeconds({ comm: 'postgres' }), cpuSeconds({ pid: broker.child.pid! }, 'system')];
    console.error(`${label}: ${seconds}s at concurrency ${concurrency}…`);
    const before = snap();
    const row = await closedLoop(label, fn, { seconds, concurrency });
    const after = snap();
    const c = (cpu[key] ??= { ops: 0, client: 0, broker: 0, brokerSys: 0, postgres: 0 });
    c.brokerSys += after[3]! - before[3]!;
    c.ops += row.ops;
    c.client += after[0]! - before[0]!;
    c.broker += after[1]! - before[1]!;
    c.postgres += after[2]! - before[2]!;
    return row;
  };
  const runPlain = async (conf: string, r: number): Promise<void> => {
    plainIssueLat = [];
    plainRevokeLat = [];
    rows.push(await measured(`${conf} plain`, `${conf} plain pg loop #${r}`, plain));
    (issue[`${conf} plain`] ??= []).push(...plainIssueLat);
    (revoke[`${conf} plain`] ??= []).push(...plainRevokeLat);
  };
  const runBroker = async (conf: string, r: number): Promise<void> => {
    issueLat = [];
    revokeLat = [];
    rows.push(await measured(`${conf} broker`, `${conf} broker gRPC #${r}`, viaBroker));
    (issue[`${conf} broker`] ??= []).push(...issueLat);
    (revoke[`${conf} broker`] ??= []).push(...revokeLat);
  };
  // Rounds alternate between the settings, so a slow minute on a shared machine touches each alike; and
  // which side runs first after a switch alternates too (with a second to settle), so neither always does.
  for (let r = 1; r <= rounds; r++) {
    for (const [i, conf] of configs.entries()) {
      await configure(conf);
      await new Promise((res) => setTimeout(res, 1000));
      if ((r + i) % 2 === 1) {
        await runPlain(conf, r);
        await runBroker(conf, r);
      } else {
        await runBroker(conf, r);
        await runPlain(conf, r);
      }
    }
  }
  printTable(rows);
  console.log('\nCPU ms per issue+revoke (2 cores shared by all three):');
  for (const [k, c] of Object.entries(cpu)) {
    const per = (s: number): string => ((s * 1000) / c.ops).toFixed(2).padStart(6);
    console.log(`${k.padEnd(16)} client ${per(c.client)}  broker ${per(c.broker)} (system ${per(c.brokerSys)})  postgres ${per(c.postgres)}  total ${per(c.client + c.broker + c.postgres)}`);
  }
  console.log(`\nissue+revoke per second at concurrency ${concurrency}, ${rounds} x ${seconds}s each after ${warmup}s of warmup, interleaved, same PostgreSQL; broker in its own process, evidence on`);
  for (const conf of configs) {
    const of = (who: string): RunStats[] => rows.filter((x) => x.label.startsWith(`${conf} ${who}`));
    const mean = (xs: RunStats[]): number => xs.reduce((s, x) => s + x.throughput, 0) / xs.length;
    const b = mean(of('broker')), p = mean(of('plain'));
    // Each round's broker run against that round's plain run: the spread says how far to trust the mean.
    const perRound = of('broker').map((x, i) => (x.throughput / of('plain')[i]!.throughput).toFixed(2));
    const goal = conf === 'durable' ? ' (goal >= 0.70)' : ' (for comparison: only the broker fsyncs)';
    console.log(`${conf.padEnd(8)} plain pg loop ${p.toFixed(0)}/s, broker ${b.toFixed(0)}/s: ratio ${(b / p).toFixed(2)}${goal}; by round ${perRound.join(', ')}`);
    for (const k of ['plain', 'broker']) {
      const key = `${conf} ${k}`;
      console.log(`  ${k.padEnd(6)} issue latency p50 ${quantile(issue[key]!, 0.5).toFixed(2)} ms, p99 ${quantile(issue[key]!, 0.99).toFixed(2)} ms; revoke p50 ${quantile(revoke[key]!, 0.5).toFixed(2)} ms, p99 ${quantile(revoke[key]!, 0.99).toFixed(2)} ms`);
    }
  }

  client.close();
  await pool.end();
  await broker.stop();
  await pg.close();
  tmp.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
