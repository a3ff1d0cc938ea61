import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ensureMasterKey, openLocalBackend } from '../../src/backends/local';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import { systemClock } from '../../src/lib/clock';
import { SecretValue } from '../../src/lib/secret-value';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';

const TOKEN = 'hd_live_Rt5Wq8Zp2Lx7Kc4Vn9Bm';
const MIB = 1024 * 1024;

/**
 * Red-team review of issue 10 item 5 (server.buffered_response_bytes): the
 * budget counts what a call holds, decompressed bodies included.
 */
describe('red team: the response budget counts decompressed bytes, over the real daemon', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let upstream: HttpsUpstream;
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    const caFile = path.join(tmp.dir, 'upstream-ca.pem');
    writeFileSync(caFile, upstream.caPem);
    const raw = baseRawConfig(pki, tmp.dir, { server: { buffered_response_bytes: '1MiB' } });
    raw['actions'] = {
      files: {
        http: {
          base_url: `https://helpdesk.test:${upstream.port}`,
          ca_files: [caFile],
          methods: ['GET'],
          paths: ['/hold', '/bomb'],
          auth: { bearer: 'helpdesk-token' },
          allow_networks: ['127.0.0.0/8'],
          max_response_bytes: MIB,
        },
        resource: 'files',
      },
    };
    writeFileSync(path.join(String(raw['policies']), 'files.cedar'), '@id("files") @reason("t") permit (principal, action == Action::"files", resource);');
    const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
    await ensureMasterKey(local.key_file, { sealedFile: local.path });
    const secrets = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
    await secrets.put('helpdesk-token', SecretValue.fromString(TOKEN));
    await secrets.close();
    broker = await startBroker({ pki, dir: tmp.dir, raw, resolver: async () => ['127.0.0.1'] });
  });
  after(async () => {
    await broker?.close();
    await upstream?.close();
    tmp?.cleanup();
  });

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  const get = (p: string, bytes: number, deadlineMs = 10_000) =>
    call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { action: 'files', method: 'GET', path: p, query: [{ name: 'bytes', value: String(bytes) }] }, { deadlineMs });

  it('a gzip response is refused when its decompressed body would pass the budget, and every byte is released after', async () => {
    // Before the fix only the compressed bytes (about 1 KiB here) were reserved, so any number of
    // small gzip bombs, each inflating to max_response_bytes, together held far more than the budget.
    const holding = get('/hold', 600 * 1024, 2000).catch((e: unknown) => e);
    const budget = broker.app.responseBudget;
    for (let i = 0; i < 100 && budget.used < 600 * 1024; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(budget.used >= 600 * 1024, `the held call reserved its bytes (${budget.used})`);
    await expectCode(get('/bomb', 600 * 1024), grpc.status.RESOURCE_EXHAUSTED, /buffered_response_bytes/);
    await holding;
    for (let i = 0; i < 50 && budget.used > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(budget.used, 0);
    // Alone, the same response fits.
    const ok = await get('/bomb', 600 * 1024);
    assert.equal(ok.body.length, 600 * 1024);
    assert.equal(budget.used, 0);
  });
});
