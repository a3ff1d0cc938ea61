import { strict as assert } from 'node:assert';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { healthCheck, healthClient } from '../helpers/stock-clients';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';

/** A gRPC frame of a ServerReflectionRequest { file_containing_symbol: symbol } (field 4). */
function reflectionRequest(symbol: string): Buffer {
  const msg = Buffer.concat([Buffer.from([0x22, Buffer.byteLength(symbol)]), Buffer.from(symbol)]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

const buffered = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

/**
 * A peer of the plaintext health port that stops reading: it opens a
 * reflection stream with the largest HTTP/2 windows, gets one answer, then a
 * proxy in between stops taking the daemon's bytes, and the peer keeps sending
 * requests (each ~30 bytes, each answered with the whole descriptor).
 */
async function nonReadingPeer(port: number, requests: number): Promise<{ answerBytes: number; daemonSide: () => net.Socket[]; close(): void }> {
  const upstreams: net.Socket[] = [];
  const proxy = net.createServer((client) => {
    const up = net.connect(port, '127.0.0.1');
    upstreams.push(up);
    client.on('error', () => undefined);
    up.on('error', () => undefined);
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const session = http2.connect(`http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, { settings: { initialWindowSize: 2 ** 31 - 1 } });
  session.on('error', () => undefined);
  session.on('connect', () => session.setLocalWindowSize(2 ** 31 - 1));
  const stream = session.request({ ':method': 'POST', ':path': '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => undefined);
  const request = reflectionRequest('grpc.health.v1.Health');
  stream.write(request);
  const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
  for (const up of upstreams) {
    up.unpipe();
    up.pause();
  }
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => request));
  for (let i = 0; i < requests / 1000; i++) stream.write(batch);
  // The daemon's end of each connection (the socket whose peer is our proxy's upstream socket).
  const ports = new Set(upstreams.map((u) => u.localPort));
  const daemonSide = (): net.Socket[] =>
    (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((h): h is net.Socket => h instanceof net.Socket && !h.destroyed && ports.has(h.remotePort));
  return {
    answerBytes: first.length,
    daemonSide,
    close: () => {
      session.destroy();
      for (const up of upstreams) up.destroy();
      proxy.close();
    },
  };
}

/**
 * Red-team review of issue 10 items 6 and 12: the plaintext health port answers
 * anyone, so nothing a peer does there may grow without bound or outlive the daemon.
 */
describe('red team: a health-port peer that never reads', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
  });
  after(() => tmp?.cleanup());

  it('cannot make the daemon buffer reflection answers without bound (it is slowed instead)', async () => {
    const broker: RunningBroker = await startBroker({ pki, dir: tmp.dir, raw: baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0' }) });
    try {
      const before = buffered();
      const count = 200_000;
      const peer = await nonReadingPeer(broker.app.healthPort!, count);
      try {
        await new Promise((r) => setTimeout(r, 3000));
        const grown = buffered() - before;
        // Unbounded, the daemon would hold every answer (~170 MB here); bounded, a few HTTP/2 windows.
        assert.ok(grown < (count * peer.answerBytes) / 8, `the daemon buffered ${Math.round(grown / 1e6)} MB for a peer that reads nothing`);
      } finally {
        peer.close();
      }
    } finally {
      await broker.close();
    }
  });

  it('does not keep its connection open after the daemon has closed (a SIGTERM must end the process)', async () => {
    const broker: RunningBroker = await startBroker({
      pki,
      dir: tmp.dir,
      raw: baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0' }),
      connectionTimeouts: { closeGraceMs: 500 },
    });
    let peer: Awaited<ReturnType<typeof nonReadingPeer>> | undefined;
    try {
      peer = await nonReadingPeer(broker.app.healthPort!, 20_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(peer.daemonSide().length, 1, 'the daemon holds the connection while it serves');
      const t0 = Date.now();
      await broker.close();
      assert.ok(Date.now() - t0 < 8000, `close took ${Date.now() - t0} ms`);
      await new Promise((r) => setTimeout(r, 1000));
      // Before the fix the daemon's socket stayed open for good: its last bytes could never be
      // written, so the close grace (which starts once they are) never started; `serve` never exited.
      assert.equal(peer.daemonSide().length, 0, 'the daemon still holds the connection of a peer that never reads');
    } finally {
      peer?.close();
    }
  });

  it('cannot lock probes out by holding every connection slot with Watch streams', async () => {
    const broker: RunningBroker = await startBroker({ pki, dir: tmp.dir, raw: baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0', server: { max_connections: 3 } }) });
    const addr = `127.0.0.1:${broker.app.healthPort}`;
    // A local subchannel pool per client: each is its own TCP connection.
    const own = { 'grpc.use_local_subchannel_pool': 1 };
    const Health = healthClient(addr, grpc.credentials.createInsecure()).constructor as new (a: string, c: grpc.ChannelCredentials, o: grpc.ChannelOptions) => grpc.Client;
    const holders = [0, 1, 2].map(() => new Health(addr, grpc.credentials.createInsecure(), own));
    try {
      // Anyone can open Watch streams on the plaintext port, and an open stream is never idle.
      const streams = holders.map((c) => (c as unknown as { Watch: (r: unknown) => grpc.ClientReadableStream<{ status: string }> }).Watch({ service: '' }));
      for (const s of streams) s.on('error', () => undefined);
      await Promise.all(streams.map((s) => new Promise((r) => s.once('data', r))));
      // Before the fix the probe's connection was closed as it was accepted, for as long as the streams stayed open.
      const probe = new Health(addr, grpc.credentials.createInsecure(), { ...own, 'grpc.initial_reconnect_backoff_ms': 100 });
      try {
        const status = await Promise.race([
          healthCheck(probe),
          new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('a probe got no answer in 3 s while three Watch streams held every slot')), 3000)),
        ]);
        assert.equal(status, 'SERVING');
      } finally {
        probe.close();
      }
    } finally {
      for (const c of holders) c.close();
      await broker.close();
    }
  });

  it('a burst of connections arriving together never leaves more than max_connections open', async () => {
    const broker: RunningBroker = await startBroker({ pki, dir: tmp.dir, raw: baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0', server: { max_connections: 3 } }) });
    const port = broker.app.healthPort!;
    const clients: net.Socket[] = [];
    const open = (): net.Socket => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      clients.push(s);
      return s;
    };
    // The daemon's end of each connection to the health port.
    const daemonSide = (): net.Socket[] =>
      (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((h): h is net.Socket => h instanceof net.Socket && !h.destroyed && h.localPort === port);
    try {
      await Promise.all([0, 1, 2].map(() => new Promise((r) => open().once('connect', r))));
      // Fifty more at once: the listener accepts several in one turn of the event loop, before any
      // socket it evicted has emitted 'close'.
      await Promise.all(Array.from({ length: 50 }, () => new Promise((r) => open().once('connect', r))));
      await new Promise((r) => setTimeout(r, 300));
      const held = daemonSide().length;
      assert.ok(held <= 3, `${held} connections open on the health port, max_connections is 3`);
    } finally {
      for (const s of clients) s.destroy();
      await broker.close();
    }
  });
});
