import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import { makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { expectDeniedCall } from '../helpers/expect-denial';
import { Barrier, startInvokeBroker } from '../helpers/invoke-broker';
import type { InvokeHooks } from '../../src/broker/invoke-service';

const policy = (maxTtl: number, maxUses = 50): string => `@id("docs") @reason("t") @max_ttl("${maxTtl}") @max_uses("${maxUses}") permit (principal in Group::"support", action == Action::"docs.edit", resource);`;

/**
 * Red-team review of issue 10 item 10 and invariant 4: a renewal and a use
 * re-decide with the current policy, and honour the @max_ttl it now sets,
 * not only the one the lease was granted under.
 */
describe('red team: re-checks honour the current policy\'s @max_ttl and @max_uses, over the real daemon', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let b: Awaited<ReturnType<typeof startInvokeBroker>> | undefined;
  const clock = new ManualClock(Date.now());
  const hooks: InvokeHooks = {};
  const start = async (maxTtl: number, maxUses?: number) => {
    b = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      clock,
      hooks,
      policies: { 'docs.cedar': policy(maxTtl, maxUses) },
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

  it('a lease granted 10 uses is held to the @max_uses 2 of the policy in force at use, also when uses race', async () => {
    await b?.close();
    clock.set(Date.now());
    await start(3600, 50);
    const agent = () => b!.broker.clientFor('agents', 'support-bot').agent;
    const grant = async (doc: string) => {
      const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'docs.edit', params: { fields: { doc: { stringValue: doc } } }, maxUses: 10 });
      assert.equal(r.status, 'GRANTED');
      assert.equal(r.lease!.usesLeft, 10);
      return r.lease!;
    };
    const serial = await grant('D-3');
    const raced = await grant('D-4');
    await b!.close();
    await start(3600, 2);
    const invoke = (id: string, doc: string) => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { leaseId: id, method: 'PUT', path: `/docs/${doc}` });
    b!.upstream.requests.length = 0;
    await invoke(serial.leaseId, 'D-3');
    await invoke(serial.leaseId, 'D-3');
    await expectCode(invoke(serial.leaseId, 'D-3'), grpc.status.FAILED_PRECONDITION, /max_uses/);
    assert.equal(b!.upstream.requests.length, 2);
    // All 8 pass the checks before any spends a use (a barrier in the beforeUse hook): they race for the uses.
    const barrier = new Barrier(8);
    hooks.beforeUse = barrier.wait;
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => invoke(raced.leaseId, 'D-4')));
    delete hooks.beforeUse;
    assert.ok(barrier.full, 'all 8 met at the barrier');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    assert.equal(b!.upstream.requests.length, 4);
  });

  it('a trust drop that commits between a use\'s re-check and the spend of that use is decided again: the use is denied, the use kept, nothing sent', async () => {
    await b?.close();
    clock.set(Date.now());
    // Uses need trust 500: the re-check of each Invoke reads it.
    b = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      clock,
      hooks,
      policies: { 'docs.cedar': `@id("docs-trusted") @reason("t") permit (principal in Group::"support", action == Action::"docs.edit", resource) when { context.trust >= 500 };` },
      actions: (http) => ({ 'docs.edit': { http: http({ methods: ['PUT'], paths: ['/docs/{id}'], context: { doc: 'path.id' } }), resource: 'doc/{doc}', max_ttl: '2h', max_uses: 50 } }),
    });
    const agent = () => b!.broker.clientFor('agents', 'support-bot').agent;
    const store = b!.broker.app.store;
    await store.setTrust({ agent: 'support-bot', score: 600, updatedAt: clock.now() });
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'docs.edit', params: { fields: { doc: { stringValue: 'D-5' } } }, maxUses: 5 });
    assert.equal(r.status, 'GRANTED');
    const invoke = () => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { leaseId: r.lease!.leaseId, method: 'PUT', path: '/docs/D-5' });
    await invoke();
    b!.upstream.requests.length = 0;
    // The drop is stored after this Invoke's re-check passed and before it spends its use, as a trust
    // change committed by another request would be (before its own re-evaluation revokes anything).
    hooks.beforeUse = async () => {
      delete hooks.beforeUse;
      await store.setTrust({ agent: 'support-bot', score: 100, updatedAt: clock.now() + 1 });
    };
    await expectDeniedCall(invoke());
    delete hooks.beforeUse;
    assert.equal(b!.upstream.requests.length, 0, 'nothing was sent');
    assert.equal((await store.getLease(r.lease!.leaseId))!.usesLeft, 4, 'the denied call spent no use');
  });
});
