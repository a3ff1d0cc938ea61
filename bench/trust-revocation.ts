/**
 * A trust drop reaching live authority: the time from sending ReportSignal
 * to the last revocation done, with N (default 1,000) active leases of one
 * agent that the drop makes no longer permitted. The reply comes after the
 * re-evaluation (and, for PostgreSQL leases, after the roles were dropped), so
 * it is the reply time; after each reply the bench checks that every lease is
 * revoked and, for PostgreSQL, that no role is left in pg_roles.
 *
 * Baseline, measured in the same run on the same leases: a plain operator
 * `RevokeLeases` by agent (no decisions), printed as a ratio.
 * The broker runs in its own process, evidence on, over real mTLS.
 * Goal: p99 <= 250 ms (HTTP leases) and <= 1 s (each lease a PostgreSQL role).
 *
 *   npx tsx bench/trust-revocation.ts [--leases 1000] [--runs 10] [--pg-runs 10] [--no-pg 1]
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { ensureMasterKey, openLocalBackend } from '../src/backends/local';
import { call, connect, type BrokerClients } from '../src/client/grpc-client';
import { systemClock } from '../src/lib/clock';
import { SecretValue } from '../src/lib/secret-value';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres } from '../test/helpers/ephemeral-postgres';
import { arg } from './bench-lib';
import { spawnServer } from './spawn-server';

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
};

async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

interface Kind {
  label: string;
  action: string;
  request: Record<string, unknown>;
  runs: number;
  goalMs: number;
  /** After a revocation: throws unless every role is gone. */
  verify?: () => Promise<void>;
}

async function main(): Promise<void> {
  const leases = arg('leases', 1000);
  const runs = arg('runs', 10);
  const pgRuns = arg('pg-runs', 10);
  const withPg = arg('no-pg', 0) === 0;
  const tmp = tempDir('sb-bench-trust-');
  let pg: EphemeralPostgres | undefined;
  if (withPg) {
    pg = await startEphemeralPostgres({ settings: ['max_connections = 200'] });
    const setup = new Pool({ connectionString: pg.adminUrl, max: 1 });
    await setup.query('CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int)');
    await setup.end();
  }
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const raw = baseRawConfig(pki, tmp.dir, {
    log_level: 'warn',
    limits: { requests_per_second: 100000, burst: 100000, active_leases: 1000000, max_body_bytes: 65536 },
    operators: { alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor'] } },
    approvals: {},
    trust: { signals: { 'eval.failed': { weight: -150 } } },
  });
  const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
  const actions = raw['actions'] as Record<string, unknown>;
  if (pg) {
    // The bench holds 1,000 roles at once, more than half the server's slots' worth: no agent logs in with them.
    raw['backends'] = { local, appdb: { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' }, max_lease_connections: 1_000_000 } };
    actions['analytics.query'] = { postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '30m' }, resource: 'analytics' };
  }
  const policies = String(raw['policies']);
  // Only the bench's policies: tickets.update (HTTP) and analytics.query (PostgreSQL) need tier standard or better.
  for (const f of ['analytics.cedar', 'billing.cedar', 'tickets.cedar']) rmSync(path.join(policies, f), { force: true });
  writeFileSync(
    path.join(policies, 'bench.cedar'),
    `@id("bench-http")\npermit (principal in Group::"support", action == Action::"tickets.update", resource) when { context.tier == "trusted" || context.tier == "standard" };\n` +
      `@id("bench-pg")\npermit (principal in Group::"support", action == Action::"analytics.query", resource) when { context.tier == "trusted" || context.tier == "standard" };\n`,
  );
  await ensureMasterKey(local.key_file, { sealedFile: local.path });
  const secrets = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
  await secrets.put('helpdesk-token', SecretValue.fromString('unused-bench-token'));
  if (pg) await secrets.put('appdb-admin', SecretValue.fromString(pg.adminUrl));
  await secrets.close();

  const broker = await spawnServer('broker', { ...raw, __dir: tmp.dir });
  const addr = `127.0.0.1:${broker.port}`;
  const caPem = readFileSync(pki.layout.caCert);
  const client = (e: { cert: string; key: string }): BrokerClients => connect({ addr, caPem, certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) });
  const agent = client(pki.layout.agents['support-bot']!);
  const op = client(pki.layout.operators['alice']!);
  const admin = pg ? new Pool({ connectionString: pg.adminUrl, max: 1 }) : undefined;

  const fill = async (k: Kind): Promise<void> => {
    await call(op.operator, 'SetTrust', { agent: 'support-bot', score: 600, reason: 'bench: back to standard' });
    await pool(leases, 32, async (i) => {
      const r = await call<unknown, { status: string }>(agent.agent, 'RequestLease', { ...k.request, params: { fields: { ticket: { stringValue: `T-${i}` } } } });
      if (r.status !== 'GRANTED') throw new Error(`lease ${i}: ${r.status}`);
    });
  };
  const checkAllRevoked = async (k: Kind): Promise<void> => {
    const live = await call<unknown, { leases: unknown[] }>(op.operator, 'ListLeases', { agent: 'support-bot', status: ['ACTIVE', 'EXHAUSTED', 'REVOKE_FAILED'], limit: 1000 });
    if (live.leases.length) throw new Error(`${live.leases.length} leases still live`);
    await k.verify?.();
  };

  const kinds: Kind[] = [
    { label: 'HTTP leases', action: 'tickets.update', request: { action: 'tickets.update', maxUses: 1 }, runs, goalMs: 250 },
  ];
  if (pg && admin) {
    kinds.push({
      label: 'PostgreSQL leases',
      action: 'analytics.query',
      request: { action: 'analytics.query', ttlSeconds: 1800 },
      runs: pgRuns,
      goalMs: 1000,
      verify: async () => {
        const n = Number((await admin.query(`SELECT count(*) AS n FROM pg_roles WHERE rolname LIKE 'sb\\_%'`)).rows[0].n);
        if (n !== 0) throw new Error(`${n} roles left in pg_roles`);
      },
    });
  }

  console.log(`trust drop with ${leases} active leases of one agent; broker in its own process, evidence on, mTLS`);
  for (const k of kinds) {
    const drop: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < k.runs; r++) {
      // The trust drop: one ReportSignal; its reply follows the last revocation.
      await fill(k);
      let t = performance.now();
      const s = await call<unknown, { leasesRevoked: number; tier: string }>(op.operator, 'ReportSignal', { agent: 'support-bot', kind: 'eval.failed', detail: 'bench' });
      drop.push(performance.now() - t);
      if (s.leasesRevoked !== leases) throw new Error(`revoked ${s.leasesRevoked} of ${leases} (tier ${s.tier})`);
      await checkAllRevoked(k);
      // The baseline on the same number of leases: the operator's RevokeLeases by agent.
      await fill(k);
      t = performance.now();
      const out = await call<unknown, { revoked: unknown[] }>(op.operator, 'RevokeLeases', { agent: 'support-bot', reason: 'bench baseline' });
      base.push(performance.now() - t);
      if (out.revoked.length !== leases) throw new Error(`baseline revoked ${out.revoked.length}`);
      await checkAllRevoked(k);
    }
    const p50 = q(drop, 0.5), p99 = q(drop, 0.99), b50 = q(base, 0.5), b99 = q(base, 0.99);
    console.log(`\n${k.label} (${k.runs} runs)`);
    console.log(`  ReportSignal -> last revocation: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (goal p99 <= ${k.goalMs} ms: ${p99 <= k.goalMs ? 'met' : 'NOT met'})`);
    console.log(`  baseline RevokeLeases by agent: p50 ${b50.toFixed(1)} ms, p99 ${b99.toFixed(1)} ms`);
    console.log(`  ratio trust drop / baseline: p50 ${(p50 / b50).toFixed(2)}, p99 ${(p99 / b99).toFixed(2)} (below 1: faster than the plain revocation)`);
  }

  agent.close();
  op.close();
  await admin?.end();
  await broker.stop();
  await pg?.close();
  tmp.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
