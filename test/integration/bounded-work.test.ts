import { strict as assert } from 'node:assert';
import type { ServerResponse } from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { call, connect } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import { loadProto } from '../../src/transport/grpc/proto';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { healthCheck, healthClient } from '../helpers/stock-clients';
import { createTestCa } from '../helpers/test-ca';
import { until as pollUntil } from '../helpers/until';

const TOKEN = 'up_live_Qm3Zr8Kx1Lw5Tn7Vb2Yc';

/**
 * A real HTTPS upstream that demands the bearer token and records every
 * request. /hang never answers; /drip?bytes=N sends N bytes and then holds the
 * response open until release(); /ok answers at once.
 */
async function startSlowUpstream(): Promise<{
  port: number;
  caPem: string;
  paths: string[];
  waitFor(n: number): Promise<void>;
  release(): void;
  close(): Promise<void>;
}> {
  const ca = await createTestCa('slow upstream test CA');
  const leaf = await ca.issue({ dnsNames: ['upstream.test'], ipAddresses: ['127.0.0.1'] });
  const paths: string[] = [];
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  const server = https.createServer({ key: leaf.keyPem, cert: leaf.chainPem }, (req, res) => {
    req.resume();
    const url = new URL(req.url ?? '/', 'https://upstream.test');
    paths.push(url.pathname);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    if (url.pathname === '/hang') return;
    if (url.pathname === '/gzip') {
      // A few hundred bytes on the wire that decode to bytes=N.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(Buffer.alloc(Number(url.searchParams.get('bytes')), 0x61)));
      return;
    }
    if (url.pathname === '/drip') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(Number(url.searchParams.get('bytes')), 0x61));
      if (url.searchParams.get('hold') === '1') held.push(res);
      else res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    caPem: ca.certPem,
    paths,
    waitFor: async (n) => {
      const until = Date.now() + 15_000;
      while (paths.length < n) {
        if (Date.now() > until) throw new Error(`the upstream saw ${paths.length} requests, not ${n}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    release: () => {
      for (const r of held.splice(0)) r.end();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const until = (what: string, fn: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> => pollUntil(what, fn, ms, 10);

describe('bounded work in flight (limits.invokes_in_flight, server.*) over the real daemon', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let upstream: Awaited<ReturnType<typeof startSlowUpstream>>;
  let broker: RunningBroker;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    upstream = await startSlowUpstream();
    const caFile = writeCaBundle(tmp.dir, [upstream]);
    const raw = baseRawConfig(pki, tmp.dir, {
      health_listen: '127.0.0.1:0',
      limits: { requests_per_second: 1000, burst: 1000, active_leases: 100, max_body_bytes: 65536, invokes_in_flight: 3, open_streams: 2 },
      server: { invokes_in_flight: 5, buffered_response_bytes: '256KiB' },
    });
    raw['secrets'] = { 'upstream-token': { backend: 'local' } };
    raw['actions'] = {
      'upstream.call': {
        http: {
          base_url: `https://upstream.test:${upstream.port}`,
          methods: ['GET'],
          paths: ['/hang', '/drip', '/gzip', '/ok'],
          auth: { bearer: 'upstream-token' },
          allow_networks: ['127.0.0.0/8'],
          ca_files: [caFile],
          max_response_bytes: 200_000,
          timeout: '50s',
        },
        max_uses: 1000,
      },
    };
    writeFileSync(
      path.join(String(raw['policies']), 'upstream.cedar'),
      '@id("upstream-any") @reason("test") permit (principal, action == Action::"upstream.call", resource);',
    );
    await seedLocalSecrets(raw, { 'upstream-token': TOKEN });
    broker = await startBroker({
      pki,
      dir: tmp.dir,
      raw,
      handlerOverrides: {
        AgentBroker: {
          // A server stream that stays open until the agent goes away, through the real Gate.
          WatchApproval: {
            stream: async (_req: never, ctx, send) => {
              send({ approvalId: 'apr_test', state: 'PENDING' } as never);
              await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve())));
            },
          },
        },
      },
      resolver: testResolver(new Map([['upstream.test', ['127.0.0.1']]])),
    });
  });
  after(async () => {
    await broker?.close();
    await upstream?.close();
    tmp?.cleanup();
  });
  beforeEach(() => {
    upstream.paths.length = 0;
  });

  const req = (p: string, query: Array<{ name: string; value: string }> = []) => ({ action: 'upstream.call', resource: 'upstream.call', method: 'GET', path: p, query });

  /** Starts an Invoke that the test can cancel; its outcome is kept (never an unhandled rejection). */
  function startInvoke(client: grpc.Client, request: Record<string, unknown>): { done: Promise<InvokeResponse__Output | grpc.ServiceError>; cancel(): void } {
    let c: grpc.ClientUnaryCall | undefined;
    const done = new Promise<InvokeResponse__Output | grpc.ServiceError>((resolve) => {
      c = (client as unknown as { Invoke: (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: InvokeResponse__Output) => void) => grpc.ClientUnaryCall }).Invoke(
        request,
        new grpc.Metadata(),
        { deadline: new Date(Date.now() + 55_000) },
        (err, res) => resolve(err ?? res),
      );
    });
    return { done, cancel: () => c?.cancel() };
  }

  it('one agent at its limit gets RESOURCE_EXHAUSTED and nothing is sent; another agent is served promptly meanwhile', async () => {
    const support = broker.clientFor('agents', 'support-bot').agent;
    const analyst = broker.clientFor('agents', 'analyst-bot').agent;
    const hanging = [0, 1, 2].map(() => startInvoke(support, req('/hang')));
    try {
      await upstream.waitFor(3);
      assert.equal(broker.app.inFlight.count('support-bot'), 3);
      // The fourth is refused before any decision or effect: the upstream sees nothing more.
      await expectCode(call(support, 'Invoke', req('/ok')), grpc.status.RESOURCE_EXHAUSTED, /in flight for this agent \(at most 3\)/);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(upstream.paths, ['/hang', '/hang', '/hang'], 'nothing sent for the refused call');
      // Another agent's calls complete promptly while support-bot's limit is saturated.
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const res = await call<unknown, InvokeResponse__Output>(analyst, 'Invoke', req('/ok'), { deadlineMs: 5000 });
        assert.equal(res.statusCode, 200);
        assert.ok(Date.now() - t0 < 3000, `analyst-bot's call took ${Date.now() - t0} ms`);
      }
    } finally {
      for (const h of hanging) h.cancel();
    }
    for (const h of hanging) assert.equal(((await h.done) as grpc.ServiceError).code, grpc.status.CANCELLED);
    // Every slot comes back when the calls end; the agent is served again.
    await until('slots released', () => broker.app.inFlight.count() === 0);
    const ok = await call<unknown, InvokeResponse__Output>(support, 'Invoke', req('/ok'));
    assert.equal(ok.statusCode, 200);
  });

  it('the daemon-wide limit (server.invokes_in_flight) refuses past it with RESOURCE_EXHAUSTED, nothing sent', async () => {
    const support = broker.clientFor('agents', 'support-bot').agent;
    const analyst = broker.clientFor('agents', 'analyst-bot').agent;
    const hanging = [
      ...[0, 1, 2].map(() => startInvoke(support, req('/hang'))),
      ...[0, 1].map(() => startInvoke(analyst, req('/hang'))),
    ];
    try {
      await upstream.waitFor(5);
      assert.equal(broker.app.inFlight.count(), 5);
      // analyst-bot holds 2 of its 3, but the daemon holds 5 of 5.
      await expectCode(call(analyst, 'Invoke', req('/ok')), grpc.status.RESOURCE_EXHAUSTED, /too many brokered calls in flight \(at most 5\)/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(upstream.paths.length, 5, 'nothing sent for the refused call');
    } finally {
      for (const h of hanging) h.cancel();
    }
    await Promise.all(hanging.map((h) => h.done));
    await until('slots released', () => broker.app.inFlight.count() === 0);
  });

  /**
   * While support-bot's call holds a 150000-byte response buffered, analyst-bot's call to `second`
   * (150000 bytes as held: on the wire, or once decoded) would pass the 256 KiB budget: refused.
   * Alone, it is served; every byte is given back when the calls end.
   */
  async function pastTheBudgetWhileOneIsHeld(second: string): Promise<void> {
    const support = broker.clientFor('agents', 'support-bot').agent;
    const analyst = broker.clientFor('agents', 'analyst-bot').agent;
    const slow = startInvoke(support, req('/drip', [{ name: 'bytes', value: '150000' }, { name: 'hold', value: '1' }]));
    try {
      await until('the first response buffered', () => broker.app.responseBudget.used >= 150_000);
      await expectCode(call(analyst, 'Invoke', req(second, [{ name: 'bytes', value: '150000' }])), grpc.status.RESOURCE_EXHAUSTED, /buffered_response_bytes/);
      assert.ok(broker.app.responseBudget.used <= 256 * 1024);
    } finally {
      upstream.release();
    }
    const first = (await slow.done) as InvokeResponse__Output;
    assert.equal(first.statusCode, 200);
    assert.equal(first.body.length, 150_000);
    assert.equal(broker.app.responseBudget.used, 0, 'released when the calls ended');
    const again = await call<unknown, InvokeResponse__Output>(analyst, 'Invoke', req(second, [{ name: 'bytes', value: '150000' }]));
    assert.equal(again.body.length, 150_000, 'within the budget it is served (decoded)');
    assert.equal(broker.app.responseBudget.used, 0);
  }

  it('buffered response bytes are bounded daemon-wide (server.buffered_response_bytes) and released when a call ends', async () => {
    await pastTheBudgetWhileOneIsHeld('/drip');
  });

  it('a compressed response is charged at its decoded size against server.buffered_response_bytes', async () => {
    // A few hundred bytes on the wire, 150000 once decoded.
    await pastTheBudgetWhileOneIsHeld('/gzip');
  });

  it('limits.open_streams is enforced per agent over the real daemon, without touching another agent', async () => {
    type Stream = grpc.ClientReadableStream<unknown>;
    const open = (client: grpc.Client): { stream: Stream; first: Promise<unknown> } => {
      const stream = (client as unknown as { WatchApproval: (r: unknown) => Stream }).WatchApproval({ approvalId: 'apr_test' });
      const first = new Promise((resolve, reject) => {
        stream.once('data', resolve);
        stream.once('error', reject);
      });
      return { stream, first };
    };
    // One channel per stream: the connection's own max_concurrent_streams (2) must not be what limits.
    const own = (name: string): grpc.Client => {
      const e = pki.layout.agents[name]!;
      return broker.clientWith(e.cert, e.key).agent;
    };
    const a = [open(own('support-bot')), open(own('support-bot'))];
    await Promise.all(a.map((s) => s.first));
    const third = open(own('support-bot'));
    await assert.rejects(third.first, (e: grpc.ServiceError) => e.code === grpc.status.RESOURCE_EXHAUSTED && /too many open streams \(at most 2\)/.test(e.details));
    const other = open(own('analyst-bot'));
    await other.first;
    other.stream.cancel();
    a[0]!.stream.cancel();
    // A closed stream frees its slot.
    let reopened: { stream: Stream; first: Promise<unknown> } | undefined;
    const end = Date.now() + 5000;
    for (;;) {
      reopened = open(own('support-bot'));
      try {
        await reopened.first;
        break;
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    reopened.stream.cancel();
    a[1]!.stream.cancel();
    for (const s of [...a, third, other, reopened]) s.stream.on('error', () => undefined);
  });

  it('the mTLS port refuses a client with no certificate before any handler runs', async () => {
    const caPem = readFileSync(pki.layout.caCert);
    const { api } = loadProto();
    const noCert = new api.secretbroker.v1.AgentBroker(broker.addr, grpc.credentials.createSsl(caPem), { 'grpc.use_local_subchannel_pool': 1 });
    try {
      const before = broker.app.ledger!.size;
      await expectCode(call(noCert, 'Invoke', req('/ok'), { deadlineMs: 3000 }), grpc.status.UNAVAILABLE);
      assert.deepEqual(upstream.paths, [], 'nothing sent');
      assert.equal(broker.app.ledger!.size, before, 'no decision was recorded: no handler ran');
      const health = healthClientWith(broker.addr, {}, grpc.credentials.createSsl(caPem));
      await assert.rejects(checkWithin(health, 3000), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
      health.close();
    } finally {
      noCert.close();
    }
  });
});


describe('connection and stream bounds (server.max_concurrent_streams, server.max_connections) on both ports', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const raw = baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0', server: { max_concurrent_streams: 2, max_connections: 3 } });
    broker = await startBroker({ pki, dir: tmp.dir, raw, connectionTimeouts: { tlsHandshakeMs: 1500, healthIdleMs: 1500, closeGraceMs: 1000 } });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('server.max_concurrent_streams bounds the streams of one connection (health port)', async () => {
    const client = healthClient(`127.0.0.1:${broker.app.healthPort}`, grpc.credentials.createInsecure());
    try {
      const watch = (name: string) => (client as unknown as { Watch: (r: unknown) => grpc.ClientReadableStream<{ status: string }> }).Watch({ service: name });
      const w = [watch(''), watch('secretbroker.v1.AgentBroker')];
      for (const s of w) s.on('error', () => undefined);
      await Promise.all(w.map((s) => new Promise((r) => s.once('data', r))));
      // Both streams of this connection are taken: a third call waits, and passes once one ends.
      const blocked = new Promise<string>((resolve, reject) => {
        (client as unknown as { Check: (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void }).Check(
          { service: '' },
          { deadline: new Date(Date.now() + 700) },
          (e, r) => (e ? reject(e) : resolve(r.status)),
        );
      });
      await assert.rejects(blocked, (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED);
      w[0]!.cancel();
      assert.equal(await healthCheck(client), 'SERVING');
      w[1]!.cancel();
    } finally {
      client.close();
    }
  });

  it('server.max_connections bounds open connections on both ports', async () => {
    // A local subchannel pool per client: each is its own TCP connection.
    const local = { 'grpc.use_local_subchannel_pool': 1 };
    // Health port: at most three open; a fourth connection is served and the oldest one is closed.
    const healthAddr = `127.0.0.1:${broker.app.healthPort}`;
    const plain = [0, 1, 2].map(() => healthClientWith(healthAddr, local));
    const sockets: Socket[] = [];
    try {
      for (const c of plain) assert.equal(await healthCheck(c), 'SERVING');
      for (const c of plain) c.close();
      await new Promise((r) => setTimeout(r, 200));
      // Three connections that hold their slots, connected in order.
      for (let i = 0; i < 3; i++) {
        const s = net.connect(broker.app.healthPort!, '127.0.0.1');
        s.on('error', () => undefined);
        s.resume();
        sockets.push(s);
        await new Promise((r) => s.once('connect', r));
        await new Promise((r) => setTimeout(r, 20));
      }
      const ended = sockets.map((s) => new Promise<boolean>((r) => s.once('close', () => r(true))));
      const fourth = healthClientWith(healthAddr, local);
      assert.equal(await checkWithin(fourth, 1500), 'SERVING');
      const settled = (p: Promise<boolean>) => Promise.race([p, new Promise<boolean>((r) => setTimeout(() => r(false), 500))]);
      const got = await Promise.all(ended.map(settled));
      assert.deepEqual(got, [true, false, false], `the oldest connection, and only it, made room: ${JSON.stringify(got)}`);
      fourth.close();
    } finally {
      for (const c of plain) c.close();
      for (const s of sockets) s.destroy();
    }
    // mTLS port: three agents' channels fit, a fourth connection does not.
    const e = pki.layout.agents['support-bot']!;
    const caPem = readFileSync(pki.layout.caCert);
    const creds = { addr: broker.addr, caPem, certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) };
    const conns = [0, 1, 2].map(() => connect(creds, local));
    try {
      for (const c of conns) await call(c.evidence, 'GetCheckpoint', {});
      const extra = connect(creds, local);
      // One call: refused at once (UNAVAILABLE) or left waiting for a slot (DEADLINE_EXCEEDED); never served.
      await assert.rejects(call(extra.evidence, 'GetCheckpoint', {}, { deadlineMs: 1500 }), (e: grpc.ServiceError) => {
        assert.ok([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(e.code), `expected UNAVAILABLE or DEADLINE_EXCEEDED, got ${grpc.status[e.code]}: ${e.message}`);
        return true;
      });
      extra.close();
    } finally {
      for (const c of conns) c.close();
    }
  });

  it('a connection that never finishes the TLS handshake is closed after the handshake timeout, and cannot keep an agent out meanwhile', async () => {
    // Three TCP connections that never send a byte take every slot of max_connections (3).
    const port = Number(broker.addr.slice(broker.addr.lastIndexOf(':') + 1));
    const idle = [0, 1, 2].map(() => net.connect(port, '127.0.0.1'));
    const closedAt = idle.map((s) => new Promise<number>((resolve) => s.once('close', () => resolve(Date.now()))));
    for (const s of idle) s.on('error', () => undefined);
    const e = pki.layout.agents['support-bot']!;
    const creds = { addr: broker.addr, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) };
    const local = { 'grpc.use_local_subchannel_pool': 1 };
    try {
      await Promise.all(idle.map((s) => new Promise((resolve) => s.once('connect', resolve))));
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      // An agent arriving while they hold every slot still gets in: the oldest connection still in its
      // handshake makes room for it.
      const agent = connect(creds, local);
      try {
        await call(agent.evidence, 'GetCheckpoint', {}, { deadlineMs: 3000 });
      } finally {
        agent.close();
      }
      // Node's own TLS handshake timeout is 120 s; the daemon's (1.5 s here, 10 s by default) closes the rest.
      const times = await Promise.race([
        Promise.all(closedAt),
        new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('the idle connections were still open after 6 s')), 6000)),
      ]);
      assert.ok(Math.max(...times) - t0 < 6000);
    } finally {
      for (const s of idle) s.destroy();
    }
  });

  it('a health-port connection that sends no request gives its slot back after the idle timeout', async () => {
    // Three plaintext connections that send nothing (or only the HTTP/2 preface) and never read take every slot (3).
    const port = broker.app.healthPort!;
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const idle = [undefined, preface, Buffer.concat([preface, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])])].map((first) => {
      const s = net.connect(port, '127.0.0.1');
      s.pause();
      s.on('error', () => undefined);
      if (first) s.once('connect', () => s.write(first));
      return s;
    });
    try {
      await Promise.all(idle.map((s) => new Promise((resolve) => (s.connecting ? s.once('connect', resolve) : resolve(undefined)))));
      // The daemon's end of each (the socket whose peer is ours).
      const ports = new Set(idle.map((s) => s.localPort));
      const held = (): number =>
        (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((h) => h instanceof net.Socket && !h.destroyed && ports.has(h.remotePort)).length;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(held(), 3, 'the idle connections hold every slot');
      // Past the idle timeout (1.5 s here, 30 s by default) and the close grace (1 s here, 5 s by default), the daemon has let them go.
      const until = Date.now() + 8000;
      while (held() > 0) {
        if (Date.now() > until) throw new Error(`the idle connections still hold ${held()} of the health port's slots after 8 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      for (const s of idle) s.destroy();
    }
  });
});

function healthClientWith(addr: string, options: grpc.ChannelOptions, creds = grpc.credentials.createInsecure()): grpc.Client {
  const c = healthClient(addr, creds);
  const Ctor = c.constructor as new (a: string, cr: grpc.ChannelCredentials, o: grpc.ChannelOptions) => grpc.Client;
  c.close();
  return new Ctor(addr, creds, options);
}

function checkWithin(client: grpc.Client, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    (client as unknown as { Check: (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void }).Check(
      { service: '' },
      { deadline: new Date(Date.now() + ms) },
      (e, r) => (e ? reject(e) : resolve(String(r.status))),
    );
  });
}
