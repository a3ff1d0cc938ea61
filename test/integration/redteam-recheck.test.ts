import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import { makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { startInvokeBroker } from '../helpers/invoke-broker';

const policy = (maxTtl: number): string => `@id("docs") @reason("t") @max_ttl("${maxTtl}") permit (principal in Group::"support", action == Action::"docs.edit", resource);`;

/**
 * Red-team review of issue 10 item 10 and invariant 4: a renewal and a use
 * re-decide with the current policy, and honour the @max_ttl it now sets,
 * not only the one the lease was granted under.
 */
describe('red team: re-checks honour the current policy\'s @max_ttl, over the real daemon', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let b: Awaited<ReturnType<typeof startInvokeBroker>> | undefined;
  const clock = new ManualClock(Date.now());
  const start = async (maxTtl: number) => {
    b = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      clock,
      policies: { 'docs.cedar': policy(maxTtl) },
      actions: (http) => ({ 'docs.edit': { http: http({ methods: ['PUT'], paths: ['/docs/{id}'], context: { doc: 'path.id' } }), resource: 'doc/{doc}', max_ttl: '2h', max_uses: 50 } }),
    });
  };
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
  });
  after(async () => {
    await b?.close();
    tmp?.cleanup();
  });

  it('a lease granted under @max_ttl 3600 is held to the @max_ttl 120 of the policy in force at renewal and use', async () => {
    await start(3600);
    const agent = () => b!.broker.clientFor('agents', 'support-bot').agent;
    const lease = async (doc: string) => {
      const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'docs.edit', params: { fields: { doc: { stringValue: doc } } }, ttlSeconds: 600, maxUses: 10 });
      assert.equal(r.status, 'GRANTED');
      return r.lease!;
    };
    const renewed = await lease('D-1');
    const used = await lease('D-2');
    const issuedAt = Date.parse(String(renewed.issuedAt));
    await b!.close();
    // The platform team tightens the policy and restarts the daemon.
    await start(120);
    const renew = await call<unknown, { lease: { expiresAt: string } }>(agent(), 'RenewLease', { leaseId: renewed.leaseId, ttlSeconds: 3000 });
    assert.ok(Date.parse(renew.lease.expiresAt) <= issuedAt + 120_000, `renewed to ${renew.lease.expiresAt}, past issue + 120 s (${new Date(issuedAt + 120_000).toISOString()})`);
    // Within 120 s of issue a use passes; past it the lease is refused, though it expires only at issue + 600 s.
    await call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { leaseId: used.leaseId, method: 'PUT', path: '/docs/D-2' });
    clock.advance(150_000);
    const sent = b!.upstream.requests.length;
    await expectCode(call(agent(), 'Invoke', { leaseId: used.leaseId, method: 'PUT', path: '/docs/D-2' }), grpc.status.FAILED_PRECONDITION, /max_ttl/);
    assert.equal(b!.upstream.requests.length, sent);
  });
});
