/**
 * Diagnostic: throughput with the CPU each side used (server process from
 * /proc, client from process.cpuUsage), to tell a saturated server from a
 * saturated client or a busy machine. echo | broker | broker-getlease.
 *
 *   npx tsx bench/cpu-split.ts [mode]
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { call, connect } from '../src/client/grpc-client';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { closedLoop } from './bench-lib';
import { spawnServer } from './spawn-server';
const ticks = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return Number(f[11]) + Number(f[12]); };
(async () => {
  const tmp = tempDir('sb-bench-');
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const raw = baseRawConfig(pki, tmp.dir, { log_level: 'warn', limits: { requests_per_second: 100000, burst: 100000, active_leases: 10000000, max_body_bytes: 65536 } });
  for (const mode of (process.argv[2] ? [process.argv[2]] : ['echo', 'broker', 'broker-getlease']) as Array<'echo' | 'broker' | 'broker-getlease'>) {
    const srv = await spawnServer(mode === 'echo' ? 'echo' : 'broker', mode === 'echo' ? raw : { ...raw, __dir: tmp.dir + '/' + mode });
    const a = pki.layout.agents['support-bot']!;
    const c = connect({ addr: `127.0.0.1:${srv.port}`, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(a.cert), keyPem: readFileSync(a.key) });
    let n = 0;
    const req = () => { const t = `T-${++n}`; return { action: 'tickets.update', resource: `ticket/${t}`, params: { fields: { ticket: { stringValue: t } } }, ttlSeconds: 60 }; };
    const fn = mode === 'broker-getlease' ? () => call(c.agent, 'GetLease', { leaseId: 'lease_x' }).catch(() => undefined) : () => call(c.agent, 'RequestLease', req());
    await closedLoop('w', fn, { seconds: 1, concurrency: 32 });
    const s0 = ticks(srv.child.pid!); const c0 = process.cpuUsage();
    const r = await closedLoop(mode, fn, { seconds: 3, concurrency: 32 });
    const s1 = ticks(srv.child.pid!); const c1 = process.cpuUsage(c0);
    console.log(mode.padEnd(16), r.throughput.toFixed(0).padStart(6), 'server cpu %', ((s1 - s0) / 100 / r.seconds * 100).toFixed(0), 'client cpu %', ((c1.user + c1.system) / 1e6 / r.seconds * 100).toFixed(0));
    c.close(); await srv.stop();
  }
  tmp.cleanup();
})();
