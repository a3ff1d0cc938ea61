import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import { loadProto } from '../../src/transport/grpc/proto';
import {
  baseRawConfig,
  makeTestPki,
  startBroker,
  tempDir,
  writeClientCert,
  type RunningBroker,
  type TestPki,
} from '../helpers/broker-harness';
import { healthCheck, healthClient, reflectionListServices } from '../helpers/stock-clients';
import { expectCode } from '../helpers/grpc-expect';
import { expectRefused } from '../helpers/expect-denial';

const code = (err: unknown): number => (err as grpc.ServiceError).code;


describe('skeleton: the real daemon over mTLS', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(`${tmp.dir}/pki`);
    const raw = baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0' });
    (raw.agents as Record<string, unknown>)['analyst-bot'] = {
      id: 'spiffe://example.org/agent/analyst-bot',
      groups: ['analysts'],
      limits: { requests_per_second: 1, burst: 3 },
    };
    broker = await startBroker({
      pki,
      dir: tmp.dir,
      raw,
      handlerOverrides: {
        Evidence: {
          // A fault injected through the composition root: a raw Error carrying internal text.
          GetEntry: async () => {
            throw new Error('connection to db.internal:5432 failed: password authentication failed for "svc" hunter2');
          },
        },
      },
    });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('answers health on the mTLS port and on the plaintext health port', async () => {
    const creds = grpc.credentials.createSsl(
      readFileSync(pki.layout.caCert),
      readFileSync(pki.layout.agents['support-bot']!.key),
      readFileSync(pki.layout.agents['support-bot']!.cert),
    );
    const secure = healthClient(broker.addr, creds);
    assert.equal(await healthCheck(secure), 'SERVING');
    assert.equal(await healthCheck(secure, 'secretbroker.v1.AgentBroker'), 'SERVING');
    secure.close();
    const plain = healthClient(`127.0.0.1:${broker.app.healthPort}`, grpc.credentials.createInsecure());
    assert.equal(await healthCheck(plain), 'SERVING');
    plain.close();
  });

  it('serves only health on the plaintext port', async () => {
    const { api } = loadProto();
    const c = new api.secretbroker.v1.AgentBroker(`127.0.0.1:${broker.app.healthPort}`, grpc.credentials.createInsecure());
    await expectCode(call(c, 'GetLease', { leaseId: 'x' }), grpc.status.UNIMPLEMENTED);
    c.close();
  });

  it('offers server reflection listing the public services', async () => {
    const creds = grpc.credentials.createSsl(
      readFileSync(pki.layout.caCert),
      readFileSync(pki.layout.operators['alice']!.key),
      readFileSync(pki.layout.operators['alice']!.cert),
    );
    const services = await reflectionListServices(broker.addr, creds);
    for (const s of ['secretbroker.v1.AgentBroker', 'secretbroker.v1.Operator', 'secretbroker.v1.Evidence', 'grpc.health.v1.Health']) {
      assert.ok(services.includes(s), `reflection lists ${s}: ${services.join(', ')}`);
    }
  });

  it('refuses a certificate from a foreign CA before any handler runs', async () => {
    const { cert, key } = await writeClientCert(pki, 'foreign', { uris: ['spiffe://example.org/agent/support-bot'], foreign: true });
    const c = broker.clientWith(cert, key);
    await expectCode(call(c.agent, 'GetLease', { leaseId: 'x' }, { deadlineMs: 5000 }), grpc.status.UNAVAILABLE);
  });

  it('refuses an expired certificate', async () => {
    const { cert, key } = await writeClientCert(pki, 'expired', {
      uris: ['spiffe://example.org/agent/support-bot'],
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const c = broker.clientWith(cert, key);
    await expectCode(call(c.agent, 'GetLease', { leaseId: 'x' }, { deadlineMs: 5000 }), grpc.status.UNAVAILABLE);
  });

  it('refuses an agent that is not configured', async () => {
    const c = broker.clientFor('agents', 'unlisted-bot');
    await expectCode(call(c.agent, 'GetLease', { leaseId: 'x' }), grpc.status.UNAUTHENTICATED, /configured agent or operator/);
  });

  it('refuses a certificate with two URI SANs', async () => {
    const { cert, key } = await writeClientCert(pki, 'two-uris', {
      uris: ['spiffe://example.org/agent/support-bot', 'spiffe://example.org/human/alice'],
    });
    const c = broker.clientWith(cert, key);
    await expectCode(call(c.agent, 'GetLease', { leaseId: 'x' }), grpc.status.UNAUTHENTICATED, /exactly one URI SAN/);
    await expectCode(call(c.operator, 'ListLeases', {}), grpc.status.UNAUTHENTICATED, /exactly one URI SAN/);
  });

  it('refuses a certificate with no URI SAN', async () => {
    const { cert, key } = await writeClientCert(pki, 'no-uri', { uris: [] });
    const c = broker.clientWith(cert, key);
    await expectCode(call(c.agent, 'GetLease', { leaseId: 'x' }), grpc.status.UNAUTHENTICATED, /exactly one URI SAN/);
  });

  it('denies an agent calling an Operator RPC', async () => {
    const c = broker.clientFor('agents', 'support-bot');
    await expectRefused(call(c.operator, 'ListLeases', {}), /operator role "auditor"/);
    await expectRefused(call(c.operator, 'SetTrust', { agent: 'support-bot', score: 1000 }));
  });

  it('denies an operator without the RPC role, and admits one with it', async () => {
    const bob = broker.clientFor('operators', 'bob'); // approver only
    await expectRefused(call(bob.operator, 'SetTrust', { agent: 'support-bot', score: 1000 }), /"admin"/);
    await expectRefused(call(bob.operator, 'ListLeases', {}), /"auditor"/);
    await expectRefused(call(bob.operator, 'Rotate', {}), /"rotator"/);
    const carol = broker.clientFor('operators', 'carol'); // auditor only
    await expectRefused(call(carol.operator, 'DecideApproval', { approvalId: 'x', approve: true }), /"approver"/);
    // alice holds admin: she passes the gate and reaches the handler, which wants an agent.
    const alice = broker.clientFor('operators', 'alice');
    await expectCode(call(alice.operator, 'BreakGlass', {}), grpc.status.INVALID_ARGUMENT, /^agent: required/);
  });

  it('denies an operator calling an agent RPC', async () => {
    const alice = broker.clientFor('operators', 'alice');
    await expectRefused(call(alice.agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-1' }), /for agents/);
  });

  it('rejects a message over the size limit with RESOURCE_EXHAUSTED', async () => {
    const c = broker.clientFor('agents', 'support-bot');
    const big = 'x'.repeat(70 * 1024); // limit is 64 KiB in this config
    await expectCode(call(c.agent, 'RequestLease', { action: 'tickets.update', resource: 'r', purpose: big }), grpc.status.RESOURCE_EXHAUSTED, /limit is 65536/);
  });

  it('rejects a message far over every limit at the transport with RESOURCE_EXHAUSTED', async () => {
    const c = broker.clientFor('agents', 'support-bot');
    const huge = 'x'.repeat(512 * 1024);
    await expectCode(call(c.agent, 'RequestLease', { action: 'tickets.update', resource: 'r', purpose: huge }), grpc.status.RESOURCE_EXHAUSTED);
  });

  it('rejects deeply nested params with RESOURCE_EXHAUSTED', async () => {
    const c = broker.clientFor('agents', 'support-bot');
    let v: Record<string, unknown> = { stringValue: 'leaf' };
    for (let i = 0; i < 40; i++) v = { structValue: { fields: { k: v } } };
    await expectCode(call(c.agent, 'RequestLease', { action: 'tickets.update', resource: 'r', params: { fields: { deep: v } } }), grpc.status.RESOURCE_EXHAUSTED, /nesting/);
  });

  it('rate-limits a burst per agent with RESOURCE_EXHAUSTED, without starving another agent', async () => {
    const analyst = broker.clientFor('agents', 'analyst-bot'); // 1/s, burst 3
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => call(analyst.agent, 'GetLease', { leaseId: 'x' })));
    const exhausted = results.filter((r) => r.status === 'rejected' && code(r.reason) === grpc.status.RESOURCE_EXHAUSTED);
    assert.ok(exhausted.length >= 4, `expected at least 4 of 8 rate-limited, got ${exhausted.length}`);
    const support = broker.clientFor('agents', 'support-bot');
    const other = await Promise.allSettled([call(support.agent, 'GetLease', { leaseId: 'x' })]);
    assert.notEqual(other[0]!.status === 'rejected' && code((other[0] as PromiseRejectedResult).reason), grpc.status.RESOURCE_EXHAUSTED);
  });

  it('turns an internal error into INTERNAL carrying only a request id', async () => {
    const c = broker.clientFor('agents', 'support-bot');
    const err = await expectCode(call(c.evidence, 'GetEntry', { index: '0' }), grpc.status.INTERNAL);
    assert.match(err.details, /^internal error \(request id [0-9a-f]{16}\)$/);
    assert.doesNotMatch(err.details, /hunter2|db\.internal|password/);
    const rid = /request id ([0-9a-f]{16})/.exec(err.details)![1]!;
    assert.deepEqual(err.metadata.get('secretbroker-request-id'), [rid]);
    assert.ok(broker.logs.text.includes(rid), 'the server log records the request id with the cause');
  });

  it('every unary RPC of the proto has a handler: none answers UNIMPLEMENTED (an empty request gets a real answer or a clear error)', async () => {
    const alice = broker.clientFor('operators', 'alice');
    const agent = broker.clientFor('agents', 'support-bot');
    const asked: string[] = [];
    for (const client of [alice.operator, agent.agent, alice.evidence]) {
      const service = (client.constructor as unknown as { service: Record<string, { requestStream: boolean; responseStream: boolean }> }).service;
      for (const [method, def] of Object.entries(service)) {
        if (def.requestStream || def.responseStream) continue;
        asked.push(method);
        const code = await call(client, method, {}).then(
          () => grpc.status.OK,
          (e: grpc.ServiceError) => e.code,
        );
        assert.notEqual(code, grpc.status.UNIMPLEMENTED, `${method} is not implemented`);
      }
    }
    assert.ok(asked.includes('Rotate') && asked.includes('RequestLease') && asked.includes('GetCheckpoint'), asked.join(' '));
  });
});
