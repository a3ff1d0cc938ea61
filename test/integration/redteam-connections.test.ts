import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call, connect } from '../../src/client/grpc-client';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';

const held = async (n: number, port: number): Promise<net.Socket[]> => {
  const out = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
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

  it('an agent still gets in while an unauthenticated peer holds every connection slot with idle TCP sockets', async () => {
    // Before the fix the fifth connection (the agent's) was closed as it was accepted: any network
    // peer, no certificate needed, locked every agent and operator out with max_connections idle sockets.
    const squatters = await held(4, broker.app.port);
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
});
