import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { baseRawConfig, makeTestPki, startBroker, tempDir, writeClientCert, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { findGrpcurl, grpcurl, GRPCURL_VERSION } from '../helpers/grpcurl';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { healthCheck, healthClient, reflectionListServices } from '../helpers/stock-clients';

const TOKEN = 'ok_live_7Hq2Zp9Wm4Xr1Ks8Ld3N';
const SERVICES = ['secretbroker.v1.AgentBroker', 'secretbroker.v1.Operator', 'secretbroker.v1.Evidence'];

type Watch = grpc.ClientReadableStream<{ status: string }>;
const watch = (client: grpc.Client, service: string): Watch => (client as unknown as { Watch: (r: unknown) => Watch }).Watch({ service });
const firstStatus = (w: Watch): Promise<string> =>
  new Promise((resolve, reject) => {
    w.once('data', (m: { status: string }) => resolve(String(m.status)));
    w.once('error', reject);
  });

describe('health, reflection and stock clients (grpcurl) against the real daemon', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let upstream: HttpsUpstream;
  let broker: RunningBroker;
  let healthAddr: string;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' }, dnsNames: ['api.test'] });
    const caFile = writeCaBundle(tmp.dir, [upstream]);
    const raw = baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0' });
    raw['secrets'] = { 'api-token': { backend: 'local' } };
    raw['actions'] = {
      'api.call': {
        http: {
          base_url: `https://api.test:${upstream.port}`,
          methods: ['GET', 'POST'],
          paths: ['/things'],
          auth: { bearer: 'api-token' },
          allow_networks: ['127.0.0.0/8'],
          ca_files: [caFile],
        },
        max_uses: 5,
      },
    };
    writeFileSync(
      path.join(String(raw['policies']), 'api.cedar'),
      '@id("api-support") @reason("test") permit (principal in Group::"support", action == Action::"api.call", resource);',
    );
    await seedLocalSecrets(raw, { 'api-token': TOKEN });
    broker = await startBroker({
      pki,
      dir: tmp.dir,
      raw,
      resolver: testResolver(new Map([['api.test', ['127.0.0.1']]])),
    });
    healthAddr = `127.0.0.1:${broker.app.healthPort}`;
  });
  after(async () => {
    await broker?.close();
    await upstream?.close();
    tmp?.cleanup();
  });

  const agentCreds = (name = 'support-bot'): grpc.ChannelCredentials => {
    const e = pki.layout.agents[name]!;
    return grpc.credentials.createSsl(readFileSync(pki.layout.caCert), readFileSync(e.key), readFileSync(e.cert));
  };

  describe('Health', () => {
    it('answers SERVING for "", the three services and each backend, on both ports; NOT_FOUND for an unknown name', async () => {
      for (const client of [healthClient(healthAddr, grpc.credentials.createInsecure()), healthClient(broker.addr, agentCreds())]) {
        try {
          for (const name of ['', ...SERVICES, 'secretbroker.backend.local']) assert.equal(await healthCheck(client, name), 'SERVING', name);
          for (const name of ['nope', 'secretbroker.backend.vault', 'grpc.health.v1.Health']) {
            await assert.rejects(healthCheck(client, name), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND, name);
          }
        } finally {
          client.close();
        }
      }
    });

    it('Watch with ever-new names (unauthenticated, plaintext port) keeps no state per name', async () => {
      const health = broker.app.health;
      const names = health.names.length;
      const client = healthClient(healthAddr, grpc.credentials.createInsecure());
      try {
        // 600 fresh names, 60 open at a time: each gets SERVICE_UNKNOWN and leaves nothing behind.
        for (let round = 0; round < 10; round++) {
          const open = Array.from({ length: 60 }, (_, i) => watch(client, `attack-${round}-${i}-${'x'.repeat(200)}`));
          for (const w of open) w.on('error', () => undefined);
          assert.deepEqual(await Promise.all(open.map(firstStatus)), open.map(() => 'SERVICE_UNKNOWN'));
          assert.equal(health.watching, 60, 'only the open calls are held');
          for (const w of open) w.cancel();
          await until(() => health.watching === 0);
        }
        assert.equal(health.names.length, names, 'the set of known names never grows');
        assert.equal(health.status('attack-0-0-' + 'x'.repeat(200)), undefined);
        // A known name is watched as usual.
        const w = watch(client, 'secretbroker.v1.AgentBroker');
        w.on('error', () => undefined);
        assert.equal(await firstStatus(w), 'SERVING');
        w.cancel();
      } finally {
        client.close();
      }
    });

    it('at shutdown every watcher gets NOT_SERVING, and the stream ends', async () => {
      const t = tempDir();
      const own = await startBroker({ pki, dir: t.dir, raw: baseRawConfig(pki, t.dir, { health_listen: '127.0.0.1:0' }) });
      const client = healthClient(`127.0.0.1:${own.app.healthPort}`, grpc.credentials.createInsecure());
      try {
        const w = watch(client, '');
        const seen: string[] = [];
        const ended = new Promise<void>((resolve) => {
          w.on('data', (m: { status: string }) => seen.push(String(m.status)));
          w.on('end', resolve);
          w.on('error', () => resolve());
        });
        await until(() => seen.length === 1);
        const t0 = Date.now();
        await own.close();
        await ended;
        assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
        // An open Watch does not hold the graceful stop until its 5 s force-close.
        assert.ok(Date.now() - t0 < 4000, `close took ${Date.now() - t0} ms`);
      } finally {
        client.close();
        t.cleanup();
      }
    });
  });

  describe('reflection', () => {
    it('on the mTLS port: configured agents and operators only; an unknown identity is refused', async () => {
      const agent = await reflectionListServices(broker.addr, agentCreds());
      for (const s of [...SERVICES, 'grpc.health.v1.Health']) assert.ok(agent.includes(s), `${s} in ${agent.join(', ')}`);
      const op = pki.layout.operators['carol']!;
      const operator = await reflectionListServices(broker.addr, grpc.credentials.createSsl(readFileSync(pki.layout.caCert), readFileSync(op.key), readFileSync(op.cert)));
      assert.ok(operator.includes('secretbroker.v1.Operator'));
      // A certificate from the right CA whose identity is not configured.
      const stranger = await writeClientCert(pki, 'stranger', { uris: ['spiffe://example.org/agent/stranger'] });
      await assert.rejects(
        reflectionListServices(broker.addr, grpc.credentials.createSsl(readFileSync(pki.layout.caCert), readFileSync(stranger.key), readFileSync(stranger.cert))),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
      );
    });

    it('on the plaintext health port: the health service alone', async () => {
      assert.deepEqual(await reflectionListServices(healthAddr, grpc.credentials.createInsecure()), ['grpc.health.v1.Health']);
    });
  });

  describe(`grpcurl ${GRPCURL_VERSION} (a stock client nobody here wrote)`, () => {
    let bin: string;
    let tls: string[];
    before(function () {
      const found = findGrpcurl();
      if (!found) {
        const msg = `grpcurl not found in .cache/bin, ~/.cache/secret-broker/bin or PATH; .ci/run installs it (go install github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_VERSION})`;
        if (process.env['CI'] === 'true') throw new Error(msg);
        console.warn(`\n  !!! SKIPPING the grpcurl tests: ${msg}\n`);
        this.skip();
      }
      bin = found!;
      const e = pki.layout.agents['support-bot']!;
      tls = ['-cacert', pki.layout.caCert, '-cert', e.cert, '-key', e.key];
    });

    const ok = async (args: string[]): Promise<string> => {
      const r = await grpcurl(bin, args);
      assert.equal(r.code, 0, `grpcurl ${args.join(' ')} failed (${r.code}): ${r.err}${r.out}`);
      return r.out;
    };

    it('health Check on the plaintext health port and on the mTLS port', async () => {
      assert.deepEqual(JSON.parse(await ok(['-plaintext', healthAddr, 'grpc.health.v1.Health/Check'])), { status: 'SERVING' });
      assert.deepEqual(JSON.parse(await ok([...tls, broker.addr, 'grpc.health.v1.Health/Check'])), { status: 'SERVING' });
      const named = await ok([...tls, '-d', '{"service":"secretbroker.v1.AgentBroker"}', broker.addr, 'grpc.health.v1.Health/Check']);
      assert.deepEqual(JSON.parse(named), { status: 'SERVING' });
      const unknown = await grpcurl(bin, ['-plaintext', '-d', '{"service":"nope"}', healthAddr, 'grpc.health.v1.Health/Check']);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.err, /NotFound/);
    });

    it('list and describe over reflection (the health port lists health alone)', async () => {
      const listed = (await ok([...tls, broker.addr, 'list'])).trim().split('\n');
      for (const s of [...SERVICES, 'grpc.health.v1.Health']) assert.ok(listed.includes(s), `${s} in ${listed.join(', ')}`);
      assert.deepEqual((await ok(['-plaintext', healthAddr, 'list'])).trim().split('\n'), ['grpc.health.v1.Health']);
      assert.match(await ok([...tls, broker.addr, 'describe', 'secretbroker.v1.AgentBroker.RequestLease']), /rpc RequestLease \( \.secretbroker\.v1\.LeaseRequest \) returns \( \.secretbroker\.v1\.LeaseResponse \)/);
      // LeaseRequest.params is a google.protobuf.Struct: its file must come with the descriptors.
      assert.match(await ok([...tls, broker.addr, 'describe', 'secretbroker.v1.LeaseRequest']), /\.google\.protobuf\.Struct params = /);
      assert.match(await ok([...tls, broker.addr, 'describe', 'google.protobuf.Struct']), /map<string, \.google\.protobuf\.Value> fields = 1;/);
    });

    it('a JSON RequestLease and Invoke over reflection alone reach the real HTTPS upstream', async () => {
      upstream.requests.length = 0;
      const leased = JSON.parse(
        await ok([...tls, '-d', JSON.stringify({ action: 'api.call', resource: 'api.call', purpose: 'grpcurl test', params: { note: 'from grpcurl', n: 3 }, max_uses: 2 }), broker.addr, 'secretbroker.v1.AgentBroker/RequestLease']),
      ) as { status: string; lease: { lease_id: string; uses_left: number } };
      assert.equal(leased.status, 'GRANTED', JSON.stringify(leased));
      // grpcurl prints the .proto's own field names.
      assert.equal(leased.lease.uses_left, 2);
      const body = Buffer.from('{"hello":"upstream"}').toString('base64');
      const res = JSON.parse(
        await ok([...tls, '-d', JSON.stringify({ lease_id: leased.lease.lease_id, method: 'POST', path: '/things', body }), broker.addr, 'secretbroker.v1.AgentBroker/Invoke']),
      ) as { status_code: number; body: string; uses_left: number };
      assert.equal(res.status_code, 200);
      assert.equal(res.uses_left, 1);
      const echoed = JSON.parse(Buffer.from(res.body, 'base64').toString('utf8')) as { method: string; url: string; body: string };
      assert.deepEqual(echoed, { method: 'POST', url: '/things', body: '{"hello":"upstream"}' });
      assert.equal(upstream.requests.length, 1);
      assert.equal(upstream.requests[0]!.authorized, true, 'the broker injected the token');
      // An agent the policy does not permit gets the explanation, via grpcurl too.
      const a = pki.layout.agents['analyst-bot']!;
      const denied = await grpcurl(bin, ['-cacert', pki.layout.caCert, '-cert', a.cert, '-key', a.key, '-d', JSON.stringify({ action: 'api.call', resource: 'api.call', method: 'GET', path: '/things' }), broker.addr, 'secretbroker.v1.AgentBroker/Invoke']);
      assert.notEqual(denied.code, 0);
      assert.match(denied.err, /PermissionDenied/);
      assert.equal(upstream.requests.length, 1, 'nothing sent for the denied call');
    });

    it('the mTLS port refuses grpcurl without a client certificate', async () => {
      const r = await grpcurl(bin, ['-cacert', pki.layout.caCert, broker.addr, 'list'], 3000);
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.out, /secretbroker/);
    });
  });
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
