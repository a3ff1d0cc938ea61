/**
 * Added latency of a brokered call: Invoke through the broker (its own
 * process) against calling the same local HTTPS upstream directly, in the
 * same run, sequentially (concurrency 1) so latencies are not queueing.
 *
 *   npx tsx bench/invoke-latency.ts [--seconds 5] [--concurrency 1]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { ensureMasterKey, openLocalBackend } from '../src/backends/local';
import { call, connect } from '../src/client/grpc-client';
import { systemClock } from '../src/lib/clock';
import { SecretValue } from '../src/lib/secret-value';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { startHttpsUpstream } from '../test/helpers/https-upstream';
import { arg, closedLoop, printTable, type RunStats } from './bench-lib';
import { spawnServer } from './spawn-server';

const TOKEN = 'bench_token_4f8a9c2e7b1d3f5a';

function direct(port: number, ca: string, agent: https.Agent | false): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, method: 'GET', path: '/tickets/T-1', ca, agent, headers: { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'identity' } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const concurrency = arg('concurrency', 1);
  const tmp = tempDir('sb-bench-');
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' } });
  const caFile = path.join(tmp.dir, 'upstream-ca.pem');
  writeFileSync(caFile, upstream.caPem);
  const raw = baseRawConfig(pki, tmp.dir, { log_level: 'warn', limits: { requests_per_second: 100000, burst: 100000, active_leases: 1000000, max_body_bytes: 65536 } });
  (raw['actions'] as Record<string, { http: Record<string, unknown>; resource?: string; max_uses?: number }>)['tickets.update'] = {
    http: { base_url: `https://127.0.0.1:${upstream.port}`, methods: ['GET'], paths: ['/tickets/{id}'], auth: { bearer: 'helpdesk-token' }, allow_networks: ['127.0.0.0/8'], ca_files: [caFile], context: { ticket: 'path.id' } },
    resource: 'ticket/{ticket}',
    max_uses: 1000000,
  };
  const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
  await ensureMasterKey(local.key_file, { sealedFile: local.path });
  const store = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
  await store.put('helpdesk-token', SecretValue.fromString(TOKEN));
  await store.close();
  const broker = await spawnServer('broker', { ...raw, __dir: tmp.dir });

  const a = pki.layout.agents['support-bot']!;
  const client = connect({ addr: `127.0.0.1:${broker.port}`, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(a.cert), keyPem: readFileSync(a.key) });
  const granted = await call<unknown, { lease: { leaseId: string } }>(client.agent, 'RequestLease', {
    action: 'tickets.update',
    resource: 'ticket/T-1',
    params: { fields: { ticket: { stringValue: 'T-1' } } },
    maxUses: 1000000,
    ttlSeconds: 3600,
  });
  const leaseId = granted.lease.leaseId;
  const keepAlive = new https.Agent({ keepAlive: true, maxSockets: concurrency });
  const invoke = () => call(client.agent, 'Invoke', { leaseId, method: 'GET', path: '/tickets/T-1' });
  // Decided, issued and used on the spot: its lease, decision and lease.issued share one commit.
  const oneShot = () => call(client.agent, 'Invoke', { action: 'tickets.update', resource: 'ticket/T-1', method: 'GET', path: '/tickets/T-1' });
  const opts = { seconds, concurrency };
  await closedLoop('warmup', invoke, { seconds: 1, concurrency });
  await closedLoop('warmup', () => direct(upstream.port, upstream.caPem, keepAlive), { seconds: 1, concurrency });
  const rows: RunStats[] = [];
  for (let r = 1; r <= 2; r++) {
    rows.push(await closedLoop(`direct, keep-alive #${r}`, () => direct(upstream.port, upstream.caPem, keepAlive), opts));
    rows.push(await closedLoop(`direct, new TLS connection #${r}`, () => direct(upstream.port, upstream.caPem, false), opts));
    rows.push(await closedLoop(`broker Invoke on a lease #${r}`, invoke, opts));
    rows.push(await closedLoop(`broker one-shot Invoke #${r}`, oneShot, opts));
  }
  printTable(rows);
  const mean = (prefix: string, f: (x: RunStats) => number) => {
    const xs = rows.filter((x) => x.label.startsWith(prefix));
    return xs.reduce((s, x) => s + f(x), 0) / xs.length;
  };
  console.log(`\nconcurrency ${concurrency}, 2 x ${seconds}s each, interleaved; broker in its own process`);
  for (const what of ['broker Invoke on a lease', 'broker one-shot Invoke']) {
    const b50 = mean(what, (x) => x.p50);
    const b99 = mean(what, (x) => x.p99);
    for (const base of ['direct, keep-alive', 'direct, new TLS connection']) {
      const d50 = mean(base, (x) => x.p50);
      const d99 = mean(base, (x) => x.p99);
      console.log(`${what} vs ${base}: added p50 ${(b50 - d50).toFixed(2)} ms (ratio ${(b50 / d50).toFixed(2)}), added p99 ${(b99 - d99).toFixed(2)} ms (ratio ${(b99 / d99).toFixed(2)})`);
    }
  }
  client.close();
  keepAlive.destroy();
  await broker.stop();
  await upstream.close();
  tmp.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
