/**
 * RequestLease throughput and p50/p99 at fixed concurrency, against a bare
 * grpc-js echo server with the same mTLS, in the same run (machines here are
 * shared and noisy, so only the ratio means much).
 *
 *   npx tsx bench/request-lease.ts [--seconds 5] [--concurrency 32] [--rounds 2]
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { call, connect } from '../src/client/grpc-client';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { arg, closedLoop, printTable, type RunStats } from './bench-lib';
import { spawnServer } from './spawn-server';

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const concurrency = arg('concurrency', 32);
  const rounds = arg('rounds', 2);
  const tmp = tempDir('sb-bench-');
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const raw = baseRawConfig(pki, tmp.dir, {
    log_level: 'warn',
    limits: { requests_per_second: 100000, burst: 100000, active_leases: 10000000, max_body_bytes: 65536 },
  });
  // Each server runs in its own process (its own core); this process only drives load.
  const broker = await spawnServer('broker', { ...raw, __dir: tmp.dir });
  const echo = await spawnServer('echo', raw);

  const a = pki.layout.agents['support-bot']!;
  const clientCreds = { caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(a.cert), keyPem: readFileSync(a.key) };
  const brokerClient = connect({ addr: `127.0.0.1:${broker.port}`, ...clientCreds });
  const echoClient = connect({ addr: `127.0.0.1:${echo.port}`, ...clientCreds });
  let n = 0;
  // Distinct tickets, so the decision cache does not hide the policy's cost.
  const req = () => {
    const t = `T-${++n}`;
    return { action: 'tickets.update', resource: `ticket/${t}`, params: { fields: { ticket: { stringValue: t } } }, ttlSeconds: 60 };
  };

  // Warm up both paths (TLS sessions, JIT, SQLite pages).
  await closedLoop('warmup', () => call(echoClient.agent, 'RequestLease', req()), { seconds: 1, concurrency });
  await closedLoop('warmup', () => call(brokerClient.agent, 'RequestLease', req()), { seconds: 1, concurrency });

  const rows: RunStats[] = [];
  for (let r = 0; r < rounds; r++) {
    rows.push(await closedLoop(`echo (bare grpc-js, mTLS) #${r + 1}`, () => call(echoClient.agent, 'RequestLease', req()), { seconds, concurrency }));
    rows.push(await closedLoop(`broker RequestLease #${r + 1}`, () => call(brokerClient.agent, 'RequestLease', req()), { seconds, concurrency }));
  }
  printTable(rows);
  const pick = (label: string) => rows.filter((x) => x.label.startsWith(label));
  const mean = (xs: RunStats[], f: (x: RunStats) => number) => xs.reduce((s, x) => s + f(x), 0) / xs.length;
  const e = pick('echo');
  const b = pick('broker');
  console.log(`\nconcurrency ${concurrency}, ${rounds} x ${seconds}s each, interleaved; servers in their own processes`);
  console.log(`throughput ratio broker/echo: ${(mean(b, (x) => x.throughput) / mean(e, (x) => x.throughput)).toFixed(2)}  (target >= 0.60)`);
  console.log(`p50 ratio broker/echo: ${(mean(b, (x) => x.p50) / mean(e, (x) => x.p50)).toFixed(2)}; p99 ratio: ${(mean(b, (x) => x.p99) / mean(e, (x) => x.p99)).toFixed(2)}`);

  brokerClient.close();
  echoClient.close();
  await broker.stop();
  await echo.stop();
  tmp.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
