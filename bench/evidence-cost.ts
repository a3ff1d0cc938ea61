/**
 * What evidence costs RequestLease: throughput and p50/p99 with evidence off
 * and on, interleaved in the same run (the machines are shared and noisy, so
 * only ratios mean much), with the bare grpc-js echo server as the usual
 * baseline. Each broker runs in its own process on its own database. Beside
 * throughput it reads each server's CPU time from /proc (Linux): CPU per
 * request is what evidence adds, and it is far less noisy than throughput on
 * a machine whose other core runs the load generator.
 *
 *   npx tsx bench/evidence-cost.ts [--seconds 5] [--concurrency 32] [--rounds 3] [--micro-seconds 2]
 *
 * Modes (bench/evidence-server-process.ts):
 *   off  buildApp({ evidence: false })
 *   on   buildApp({}): evidence as the composition root wires it into RequestLease
 *
 * It also measures in-process, in the same run: SqliteStore.insertLease alone
 * against insertLease + ledger.append of the two entries in the same tick.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { call, connect } from '../src/client/grpc-client';
import { generateNoteKey, parseSignerKey } from '../src/evidence/note-key';
import { Ledger } from '../src/evidence/ledger/ledger';
import { SqliteLedgerStorage } from '../src/evidence/ledger/sqlite-ledger-storage';
import type { LeaseRecord } from '../src/leases/lease';
import { systemClock } from '../src/lib/clock';
import { IdSource } from '../src/lib/ids';
import { SqliteStore } from '../src/store/sqlite/sqlite-store';
import Database from 'better-sqlite3';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { arg, closedLoop, printTable, type RunStats } from './bench-lib';
import type { EvidenceMode } from './evidence-server-process';
import { spawnServer, type ServerProcess } from './spawn-server';

function spawnEvidenceServer(mode: EvidenceMode, raw: Record<string, unknown>): Promise<ServerProcess> {
  return spawnServer(mode, raw, 'evidence-server-process.ts');
}

/** User + system CPU of a process, in ms (from /proc; undefined where there is none). */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return undefined;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100 on Linux)
}

function evidenceEntries(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'evidence_entries'").pluck().get() as number)
      ? (db.prepare('SELECT COUNT(*) FROM evidence_entries').pluck().get() as number)
      : 0;
  } finally {
    db.close();
  }
}

/** In-process: what the ledger adds to one group-committed lease insert. */
async function micro(dir: string, seconds: number, concurrency: number): Promise<RunStats[]> {
  const store = new SqliteStore({ path: path.join(dir, 'micro.db') });
  const origin = 'bench.example/secret-broker';
  const ids = new IdSource();
  const ledger = await Ledger.open({
    storage: new SqliteLedgerStorage(store.db, store.writes),
    origin,
    signer: parseSignerKey(generateNoteKey(origin).signerKey),
    clock: systemClock,
    ids,
  });
  ledger.start();
  const lease = (): LeaseRecord => {
    const now = Date.now();
    return {
      id: ids.newLeaseId(now), agent: 'support-bot', action: 'tickets.update', resource: 'ticket/T-1', context: { ticket: 'T-1' }, params: { ticket: 'T-1' }, purpose: '',
      status: 'active', issuedAt: now, expiresAt: now + 60_000, maxExpiresAt: now + 60_000, maxUses: 1, usesLeft: 1,
      policyVersion: 'sha256:0123456789abcdef', policyIds: ['tickets-update-support'], tier: 'standard', updatedAt: now,
    };
  };
  const withEvidence = async (): Promise<void> => {
    const l = lease();
    const who = { agent: l.agent, action: l.action, resource: l.resource };
    await Promise.all([
      store.insertLease(l),
      ledger.append([
        { type: 'decision', ...who, decision: { effect: 'allow', policies: l.policyIds, policy_version: l.policyVersion } },
        { type: 'lease.issued', ...who, lease: { id: l.id, expires_at: new Date(l.expiresAt).toISOString(), max_uses: 1 } },
      ]),
    ]);
  };
  const rows: RunStats[] = [];
  for (let r = 0; r < 2; r++) {
    rows.push(await closedLoop(`in-process insertLease #${r + 1}`, () => store.insertLease(lease()), { seconds, concurrency }));
    rows.push(await closedLoop(`in-process insert+append #${r + 1}`, withEvidence, { seconds, concurrency }));
  }
  await ledger.close();
  await store.close();
  return rows;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const concurrency = arg('concurrency', 32);
  const rounds = arg('rounds', 3);
  const microSeconds = arg('micro-seconds', 2);
  const tmp = tempDir('sb-bench-evidence-');
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const raw = baseRawConfig(pki, tmp.dir, {
    log_level: 'warn',
    limits: { requests_per_second: 100000, burst: 100000, active_leases: 10000000, max_body_bytes: 65536 },
  });
  const modes: EvidenceMode[] = ['off', 'on'];
  const dbOf = (mode: EvidenceMode): string => path.join(tmp.dir, `broker-${mode}.db`);
  const servers = new Map<EvidenceMode, ServerProcess>();
  for (const mode of modes) {
    servers.set(mode, await spawnEvidenceServer(mode, { ...raw, state: { sqlite: dbOf(mode) }, __dir: tmp.dir }));
  }
  const echo = await spawnServer('echo', raw);

  const a = pki.layout.agents['support-bot']!;
  const creds = { caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(a.cert), keyPem: readFileSync(a.key) };
  const clients = new Map(modes.map((m) => [m, connect({ addr: `127.0.0.1:${servers.get(m)!.port}`, ...creds })]));
  const echoClient = connect({ addr: `127.0.0.1:${echo.port}`, ...creds });
  let n = 0;
  // Distinct tickets, so the decision cache does not hide the policy's cost.
  const req = () => {
    const t = `T-${++n}`;
    return { action: 'tickets.update', resource: `ticket/${t}`, params: { fields: { ticket: { stringValue: t } } }, ttlSeconds: 60 };
  };
  const requestLease = (m: EvidenceMode) => async () => {
    const res = await call<unknown, { status: string }>(clients.get(m)!.agent, 'RequestLease', req());
    if (res.status !== 'GRANTED') throw new Error(`RequestLease: ${res.status}`);
  };
  // Server CPU per request (ms) of each run, by label.
  const cpuPerRequest = new Map<string, number>();
  const measured = async (label: string, server: ServerProcess, fn: () => Promise<unknown>): Promise<RunStats> => {
    const before = cpuMs(server.child.pid);
    const r = await closedLoop(label, fn, { seconds, concurrency });
    const after = cpuMs(server.child.pid);
    if (before !== undefined && after !== undefined && r.ops > 0) cpuPerRequest.set(label, (after - before) / r.ops);
    return r;
  };

  await closedLoop('warmup', () => call(echoClient.agent, 'RequestLease', req()), { seconds: 1, concurrency });
  for (const m of modes) await closedLoop('warmup', requestLease(m), { seconds: 1, concurrency });

  const rows: RunStats[] = [];
  for (let r = 0; r < rounds; r++) {
    rows.push(await measured(`echo (bare grpc-js, mTLS) #${r + 1}`, echo, () => call(echoClient.agent, 'RequestLease', req())));
    for (const m of modes) rows.push(await measured(`broker evidence=${m} #${r + 1}`, servers.get(m)!, requestLease(m)));
  }
  printTable(rows);
  if (cpuPerRequest.size > 0) {
    console.log('\nserver CPU per request (user + system, from /proc):');
    for (const r of rows) console.log(`  ${r.label.padEnd(34)} ${((cpuPerRequest.get(r.label) ?? NaN) * 1000).toFixed(0).padStart(5)} us`);
  }
  const mean = (label: string, f: (x: RunStats) => number): number => {
    const xs = rows.filter((x) => x.label.startsWith(label));
    return xs.reduce((s, x) => s + f(x), 0) / xs.length;
  };
  const cpu = (x: RunStats): number => cpuPerRequest.get(x.label) ?? NaN;
  const ratio = (a: string, b: string): string =>
    `throughput ${(mean(a, (x) => x.throughput) / mean(b, (x) => x.throughput)).toFixed(2)}, p50 ${(mean(a, (x) => x.p50) / mean(b, (x) => x.p50)).toFixed(2)}, p99 ${(mean(a, (x) => x.p99) / mean(b, (x) => x.p99)).toFixed(2)}`;
  const perRound = (a: string, b: string): string =>
    Array.from({ length: rounds }, (_, i) => {
      const x = rows.find((y) => y.label === `${a} #${i + 1}`)!;
      const y = rows.find((z) => z.label === `${b} #${i + 1}`)!;
      return (x.throughput / y.throughput).toFixed(2);
    }).join(' ');
  console.log(`\nconcurrency ${concurrency}, ${rounds} x ${seconds}s each, interleaved; servers in their own processes`);
  console.log(`off/echo: ${ratio('broker evidence=off', 'echo')}`);
  console.log(`on/off:   ${ratio('broker evidence=on', 'broker evidence=off')}  (throughput by round: ${perRound('broker evidence=on', 'broker evidence=off')})`);
  const cpuOn = mean('broker evidence=on', cpu);
  const cpuOff = mean('broker evidence=off', cpu);
  if (Number.isFinite(cpuOn) && Number.isFinite(cpuOff)) {
    console.log(`server CPU per request: off ${(cpuOff * 1000).toFixed(0)} us, on ${(cpuOn * 1000).toFixed(0)} us; evidence adds ${((cpuOn - cpuOff) * 1000).toFixed(0)} us; off/on ${(cpuOff / cpuOn).toFixed(2)} (the throughput a CPU-bound server would keep)`);
  }

  for (const c of [...clients.values(), echoClient]) c.close();
  for (const s of [...servers.values(), echo]) await s.stop();
  const counts = Object.fromEntries(modes.map((m) => [m, evidenceEntries(dbOf(m))]));
  console.log(`evidence entries written: ${JSON.stringify(counts)}`);
  if (counts['off']! > 0) console.log('warning: evidence=off wrote entries; buildApp does not honour { evidence: false }');
  if (counts['on']! === 0) console.log('warning: evidence=on wrote no entries');

  const microRows = await micro(tmp.dir, microSeconds, concurrency);
  console.log('');
  printTable(microRows);
  const m = (label: string): number => microRows.filter((x) => x.label.startsWith(label)).reduce((s, x) => s + x.throughput, 0) / 2;
  console.log(`in-process (insert+append)/insertLease throughput: ${(m('in-process insert+append') / m('in-process insertLease')).toFixed(2)}`);
  tmp.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
