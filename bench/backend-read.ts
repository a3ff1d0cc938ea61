/**
 * A brokered call whose secret comes from Vault (the in-repo Vault API
 * server, over TLS) or AWS Secrets Manager (a real moto_server), against the
 * same call with a local-backed secret, in the same run: each with the read
 * cache off (cold: every call reads the store) and on (warm: cache_ttl 30s).
 * The broker runs in its own process; the stores run in this one (Vault) and
 * in moto's (AWS). Sequential calls (concurrency 1), so latencies are not
 * queueing.
 *
 *   npx tsx bench/backend-read.ts [--seconds 4] [--concurrency 1]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ensureMasterKey, openLocalBackend } from '../src/backends/local';
import { call, connect } from '../src/client/grpc-client';
import { systemClock } from '../src/lib/clock';
import { SecretValue } from '../src/lib/secret-value';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { startHttpsUpstream } from '../test/helpers/https-upstream';
import { startMotoServer, useFakeAwsCredentials } from '../test/helpers/moto-server';
import { startVaultServer } from '../test/vault-server/vault-server';
import { arg, closedLoop, printTable, type RunStats } from './bench-lib';
import { spawnServer } from './spawn-server';

const TOKEN = 'bench_token_9c2e7b1d3f5a4f8a';

async function main(): Promise<void> {
  const seconds = arg('seconds', 4);
  const concurrency = arg('concurrency', 1);
  const tmp = tempDir('sb-bench-backends-');
  const restoreEnv = useFakeAwsCredentials();
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' } });
  const caFile = path.join(tmp.dir, 'upstream-ca.pem');
  writeFileSync(caFile, upstream.caPem);

  const vault = await startVaultServer();
  vault.putKv('secret', 'bench/token', { token: TOKEN });
  const { token } = vault.createToken({ paths: { 'secret/data/bench/*': ['read'] }, ttl: '24h', renewable: true });
  const tokenFile = path.join(tmp.dir, 'vault-token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const vaultCa = path.join(tmp.dir, 'vault-ca.pem');
  writeFileSync(vaultCa, vault.caPem!);

  const moto = await startMotoServer();
  const sm = new SecretsManagerClient({ region: 'eu-west-1', endpoint: moto.endpoint });
  await sm.send(new CreateSecretCommand({ Name: 'bench/token', SecretString: JSON.stringify({ token: TOKEN }) }));
  sm.destroy();

  const raw = baseRawConfig(pki, tmp.dir, { log_level: 'warn', limits: { requests_per_second: 100000, burst: 100000, active_leases: 1000000, max_body_bytes: 65536 } });
  const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
  const vaultBackend = (cacheTtl: string) => ({ kind: 'vault', address: vault.url, ca_file: vaultCa, token_file: tokenFile, cache_ttl: cacheTtl });
  const awsBackend = (cacheTtl: string) => ({ kind: 'aws-secrets-manager', region: 'eu-west-1', endpoint: moto.endpoint, cache_ttl: cacheTtl });
  raw['backends'] = {
    local,
    'vault-cold': vaultBackend('0s'),
    'vault-warm': vaultBackend('30s'),
    'aws-cold': awsBackend('0s'),
    'aws-warm': awsBackend('30s'),
  };
  const kinds = ['local', 'vault-cold', 'vault-warm', 'aws-cold', 'aws-warm'] as const;
  raw['secrets'] = {
    local: { backend: 'local', name: 'bench-token' },
    'vault-cold': { backend: 'vault-cold', name: 'bench/token', field: 'token' },
    'vault-warm': { backend: 'vault-warm', name: 'bench/token', field: 'token' },
    'aws-cold': { backend: 'aws-cold', id: 'bench/token', field: 'token' },
    'aws-warm': { backend: 'aws-warm', id: 'bench/token', field: 'token' },
  };
  raw['actions'] = Object.fromEntries(
    kinds.map((k) => [
      `read.${k}`,
      {
        http: { base_url: `https://127.0.0.1:${upstream.port}`, methods: ['GET'], paths: ['/tickets/{id}'], auth: { bearer: k }, allow_networks: ['127.0.0.0/8'], ca_files: [caFile] },
        max_uses: 1000000,
      },
    ]),
  );
  writeFileSync(
    path.join(String(raw['policies']), 'bench.cedar'),
    `@id("bench-reads")\npermit (principal in Group::"support", action in [${kinds.map((k) => `Action::"read.${k}"`).join(', ')}], resource);\n`,
  );
  await ensureMasterKey(local.key_file, { sealedFile: local.path });
  const store = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
  await store.put('bench-token', SecretValue.fromString(TOKEN));
  await store.close();
  const broker = await spawnServer('broker', { ...raw, __dir: tmp.dir });

  const a = pki.layout.agents['support-bot']!;
  const client = connect({ addr: `127.0.0.1:${broker.port}`, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(a.cert), keyPem: readFileSync(a.key) });
  const leases: Record<string, string> = {};
  for (const k of kinds) {
    const granted = await call<unknown, { status: string; lease: { leaseId: string } }>(client.agent, 'RequestLease', { action: `read.${k}`, maxUses: 1000000, ttlSeconds: 3600 });
    if (granted.status !== 'GRANTED') throw new Error(`lease for read.${k} was not granted`);
    leases[k] = granted.lease.leaseId;
  }
  const invoke = (k: string) => async (): Promise<void> => {
    const r = await call<unknown, { statusCode: number }>(client.agent, 'Invoke', { leaseId: leases[k], method: 'GET', path: '/tickets/T-1' });
    if (r.statusCode !== 200) throw new Error(`read.${k}: upstream status ${r.statusCode}`);
  };
  for (const k of kinds) await closedLoop('warmup', invoke(k), { seconds: 1, concurrency });
  const rows: RunStats[] = [];
  for (let r = 1; r <= 2; r++) for (const k of kinds) rows.push(await closedLoop(`${k} #${r}`, invoke(k), { seconds, concurrency }));
  printTable(rows);
  const mean = (k: string, f: (x: RunStats) => number): number => {
    const xs = rows.filter((x) => x.label.startsWith(`${k} #`));
    return xs.reduce((s, x) => s + f(x), 0) / xs.length;
  };
  console.log(`\nconcurrency ${concurrency}, 2 x ${seconds}s each, interleaved; broker in its own process; ratios against the local-backed call`);
  const base50 = mean('local', (x) => x.p50);
  const baseOps = mean('local', (x) => x.throughput);
  for (const k of kinds.slice(1)) {
    const p50 = mean(k, (x) => x.p50);
    console.log(`${k.padEnd(10)} p50 ${p50.toFixed(2)} ms (ratio ${(p50 / base50).toFixed(2)}, added ${(p50 - base50).toFixed(2)} ms), throughput ratio ${(mean(k, (x) => x.throughput) / baseOps).toFixed(2)}`);
  }
  client.close();
  await broker.stop();
  await vault.close();
  await moto.close();
  await upstream.close();
  restoreEnv();
  tmp.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
