import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { call, connect } from '../../src/client/grpc-client';
import { baseRawConfig, makeTestPki, startBroker, tempDir, writeClientCert, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { healthClient } from '../helpers/stock-clients';
import { expectCode } from '../helpers/grpc-expect';

const held = async (n: number, port: number, localAddress = '127.0.0.1'): Promise<net.Socket[]> => {
  const out = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
      s.on('error', reject);
    })),
  );
  for (const s of out) s.on('error', () => undefined);
  return out;
};

/**
 * Red-team review of issue 10 item 5/6 (server.max_connections): the cap on
 * the mTLS port must not be a lever for a peer without a certificate.
 */
describe('red team: server.max_connections cannot be filled by peers that never authenticate', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    broker = await startBroker({ pki, dir: tmp.dir, raw: baseRawConfig(pki, tmp.dir, { server: { max_connections: 4 } }) });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  const agentCreds = () => {
    const e = pki.layout.agents['support-bot']!;
    return { addr: broker.addr, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) };
  };

  for (const from of ['127.0.0.1', '127.0.0.2']) it(`an agent still gets in while an unauthenticated peer (${from}) holds every connection slot with idle TCP sockets`, async () => {
    // Before the fix the fifth connection (the agent's) was closed as it was accepted: any network
    // peer, no certificate needed, locked every agent and operator out with max_connections idle sockets.
    // From the agent's own address or another, the most crowded source gives up its oldest handshake.
    const squatters = await held(4, broker.app.port, from);
    try {
      await new Promise((r) => setTimeout(r, 100));
      const agent = connect(agentCreds(), { 'grpc.use_local_subchannel_pool': 1 });
      try {
        await call(agent.evidence, 'GetCheckpoint', {}, { deadlineMs: 5000 });
      } finally {
        agent.close();
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(squatters[0]!.destroyed || squatters[0]!.readableEnded, 'the oldest connection still in its TLS handshake made room');
    } finally {
      for (const s of squatters) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
  });

  it('an agent past the cap loses its newest connection, never one it already has', async () => {
    const local = { 'grpc.use_local_subchannel_pool': 1 };
    const creds = agentCreds();
    const conns = [0, 1, 2, 3].map(() => connect(creds, local));
    try {
      for (const c of conns) await call(c.evidence, 'GetCheckpoint', {});
      const extra = connect(creds, local);
      await assert.rejects(call(extra.evidence, 'GetCheckpoint', {}, { deadlineMs: 1500 }), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED);
      extra.close();
      for (const c of conns) await call(c.evidence, 'GetCheckpoint', {});
    } finally {
      for (const c of conns) c.close();
    }
  });

  it('one agent holding every connection does not lock another agent out (fair share, invariant 8)', async () => {
    // Before the fix the other agent's connection was closed as it was accepted.
    const local = { 'grpc.use_local_subchannel_pool': 1 };
    const hog = [0, 1, 2, 3].map(() => connect(agentCreds(), local));
    const e = pki.layout.agents['analyst-bot']!;
    const other = connect({ addr: broker.addr, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) }, local);
    try {
      for (const c of hog) await call(c.evidence, 'GetCheckpoint', {});
      await call(other.evidence, 'GetCheckpoint', {}, { deadlineMs: 5000 });
    } finally {
      for (const c of hog) c.close();
      other.close();
    }
    await new Promise((r) => setTimeout(r, 200));
  });

  it('a client without a certificate is still refused', async () => {
    const client = new grpc.Client(broker.addr, grpc.credentials.createSsl(null, null, null, { checkServerIdentity: () => undefined }));
    try {
      await expectCode(
        new Promise((resolve, reject) =>
          client.makeUnaryRequest('/secretbroker.v1.Evidence/GetCheckpoint', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), { deadline: new Date(Date.now() + 3000) }, (err, res) => (err ? reject(err) : resolve(res))),
        ),
        grpc.status.UNAVAILABLE,
      );
    } finally {
      client.close();
    }
  });

  it('plaintext HTTP/2 never reaches the gRPC server on the mTLS port (not even the unauthenticated Health service)', async () => {
    const plain = healthClient(broker.addr, grpc.credentials.createInsecure());
    try {
      const check = new Promise<string>((resolve, reject) =>
        (plain as unknown as { Check: (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void }).Check(
          { service: '' },
          { deadline: new Date(Date.now() + 2000) },
          (e, r) => (e ? reject(e) : resolve(String(r.status))),
        ),
      );
      await assert.rejects(check, (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.DEADLINE_EXCEEDED);
    } finally {
      plain.close();
    }
  });

  it('every way a connection ends gives its slot back (failed, timed-out, reset and evicted connections leave nothing behind)', async () => {
    const port = broker.app.port;
    const caPem = readFileSync(pki.layout.caCert);
    const foreign = await writeClientCert(pki, 'foreign-churn', { uris: ['spiffe://example.org/agent/support-bot'], foreign: true });
    const agent = pki.layout.agents['support-bot']!;
    const ends: Array<() => Promise<void>> = [];
    const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));
    // Each step is bounded: a connection the daemon refuses must not hang the test.
    const within = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 3000))]);
    for (let i = 0; i < 6; i++) {
      // A TCP connection the peer resets at once.
      ends.push(async () => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        await within(new Promise((r) => s.once('connect', r)));
        s.resetAndDestroy();
      });
      // A plaintext HTTP/2 preface, a TLS client without a certificate, one from a foreign CA.
      ends.push(async () => {
        const s = net.connect(port, '127.0.0.1', () => s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
        s.on('error', () => undefined);
        s.resume();
        await within(closed(s));
      });
      for (const id of [undefined, { cert: readFileSync(foreign.cert), key: readFileSync(foreign.key) }]) {
        ends.push(async () => {
          const s = tls.connect({ port, host: '127.0.0.1', ca: caPem, checkServerIdentity: () => undefined, ALPNProtocols: ['h2'], ...(id ?? {}) });
          s.on('error', () => undefined);
          s.resume();
          await within(closed(s));
        });
      }
      // A verified connection the peer resets after its handshake.
      ends.push(async () => {
        const raw = net.connect(port, '127.0.0.1');
        raw.on('error', () => undefined);
        await within(new Promise((r) => raw.once('connect', r)));
        const s = tls.connect({ socket: raw, ca: caPem, checkServerIdentity: () => undefined, ALPNProtocols: ['h2'], cert: readFileSync(agent.cert), key: readFileSync(agent.key) });
        s.on('error', () => undefined);
        // The daemon's HTTP/2 SETTINGS: the connection was verified and handed to the gRPC server.
        await within(new Promise((r) => s.once('data', r)));
        raw.resetAndDestroy();
      });
    }
    // Several at once, so the cap (4) is passed and connections are evicted too.
    await Promise.all(ends.map((end) => end()));
    await new Promise((r) => setTimeout(r, 300));
    // Four verified connections of four identities now fit side by side: had any of the above kept its
    // slot, the fourth would evict one of them (max_connections = 4). A slot given back late (a loaded
    // machine closes sockets slowly) is not a leak: up to five tries, two seconds apart; a kept slot fails all.
    const fourSideBySide = async (): Promise<boolean[]> => {
      const held = await Promise.all(
        (['support-bot', 'analyst-bot', 'alice', 'carol'] as const).map(async (name) => {
          const e = pki.layout.agents[name] ?? pki.layout.operators[name]!;
          const s = tls.connect({ port, host: '127.0.0.1', ca: caPem, checkServerIdentity: () => undefined, ALPNProtocols: ['h2'], cert: readFileSync(e.cert), key: readFileSync(e.key) });
          s.on('error', () => undefined);
          s.resume();
          await new Promise((r) => {
            s.once('secureConnect', r);
            s.once('close', r);
            setTimeout(r, 3000);
          });
          return s;
        }),
      );
      try {
        await new Promise((r) => setTimeout(r, 500));
        return held.map((s) => !s.destroyed && !s.readableEnded && s.authorized);
      } finally {
        for (const s of held) s.destroy();
      }
    };
    let fit: boolean[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      fit = await fourSideBySide();
      if (fit.every(Boolean)) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    assert.deepEqual(fit, [true, true, true, true], 'a connection was refused or evicted: a slot was kept by a connection that had ended');
  });
});

/**
 * Our last review (issue 10): at max_connections full of verified connections, a peer without a
 * certificate opening a bare TCP connection every 20 ms kept every new agent out. Its own daemon:
 * gRPC channels the tests above closed may still reconnect and take a slot.
 */
describe('red team: handshake room on the mTLS port is shared by source address', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    broker = await startBroker({ pki, dir: tmp.dir, raw: baseRawConfig(pki, tmp.dir, { server: { max_connections: 4 } }) });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('a peer churning bare TCP connects from another address cannot keep a new agent out while the cap is full of verified connections', async () => {
    // Before the fix every bare connect evicted the oldest connection still in its handshake, the
    // newcomer agent's: with one agent holding all four slots, churn every 10 ms let no other agent in.
    const port = broker.app.port;
    const caPem = readFileSync(pki.layout.caCert);
    const first = pki.layout.agents['support-bot']!;
    /** One verified connection of the first agent, once the daemon's HTTP/2 SETTINGS arrive (it was handed to gRPC); undefined if refused. */
    const verified = (): Promise<tls.TLSSocket | undefined> =>
      new Promise((resolve) => {
        const s = tls.connect({ port, host: '127.0.0.1', ca: caPem, checkServerIdentity: () => undefined, ALPNProtocols: ['h2'], cert: readFileSync(first.cert), key: readFileSync(first.key) });
        s.on('error', () => undefined);
        const t = setTimeout(() => {
          s.destroy();
          resolve(undefined);
        }, 2000);
        s.once('data', () => {
          clearTimeout(t);
          resolve(s);
        });
        s.once('close', () => {
          clearTimeout(t);
          resolve(undefined);
        });
      });
    const hog: tls.TLSSocket[] = [];
    /** The first agent takes back every slot (the connection the last attempt evicted reconnects). */
    const fill = async (): Promise<boolean> => {
      for (let tries = 0; tries < 5; tries++) {
        for (let i = hog.length - 1; i >= 0; i--) if (hog[i]!.destroyed) hog.splice(i, 1);
        while (hog.length < 4) {
          const s = await verified();
          if (!s) break;
          hog.push(s);
        }
        if (hog.length === 4) return true;
        // The second agent's connection may not have closed yet: then this identity's extra one is refused.
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    const e = pki.layout.agents['analyst-bot']!;
    const otherCreds = { addr: broker.addr, caPem, certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) };
    const churned: net.Socket[] = [];
    let churning = true;
    let churn = Promise.resolve();
    let ok = 0;
    let hogFull = 0;
    const failures: string[] = [];
    try {
      assert.ok(await fill(), 'the first agent holds all four slots');
      // 127.0.0.2 opens a bare TCP connection every 10 ms and never starts TLS (bounded in time).
      churn = (async () => {
        const until = Date.now() + 40_000;
        while (churning && Date.now() < until) {
          const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
          s.on('error', () => undefined);
          churned.push(s);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      await new Promise((r) => setTimeout(r, 100));
      const until = Date.now() + 30_000;
      for (let i = 0; i < 20 && Date.now() < until; i++) {
        if (await fill()) hogFull++;
        const other = connect(otherCreds, { 'grpc.use_local_subchannel_pool': 1 });
        try {
          await call(other.evidence, 'GetCheckpoint', {}, { deadlineMs: 2000 });
          ok++;
        } catch (err) {
          failures.push((err as grpc.ServiceError).details ?? String(err));
        } finally {
          other.close();
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      churning = false;
      await churn;
      for (const s of [...churned, ...hog]) s.destroy();
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(churned.length > 100, `the churn ran (${churned.length} connects)`);
    assert.ok(ok >= 19, `the second agent got in ${ok} of 20 times while 127.0.0.2 churned: ${failures.slice(0, 3).join('; ')}`);
    assert.ok(hogFull >= 19, `the first agent held all four slots before ${hogFull} of 20 attempts`);
  });
});
