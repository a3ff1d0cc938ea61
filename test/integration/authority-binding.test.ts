import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { readEntries } from '../helpers/evidence-entries';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { expectDeniedCall } from '../helpers/expect-denial';

const TOKEN = 'hd_live_Bq7Xw2Lp9Zr4Tn6Vm1Kc';
const STRIPE = 'sk_live_8Hs3Jd6Qw1Lp4Zx7Rt2Vn';

/** An evidence entry, as far as these tests read it. */
interface Entry {
  type: string;
  index: number;
  resource?: string;
  lease: { id: string; expires_at: string; max_expires_at: string };
}

type Struct = { fields: Record<string, { stringValue?: string; numberValue?: number }> };
const params = (p: Record<string, string | number>): Struct => ({
  fields: Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? { numberValue: v } : { stringValue: v }])),
});

/**
 * Issue 10, items 1, 3, 9 and 10: authority covers exactly what was decided
 * (the resource the broker renders, the uses config allows, the params the
 * policy saw) and the log never claims a renewal that did not happen.
 */
describe('authority bound to what was decided, over the real daemon', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let helpdesk: HttpsUpstream;
  let stripe: HttpsUpstream;
  let raw: Record<string, unknown>;
  let stateDir: string;
  const dns = new Map<string, string[]>([
    ['helpdesk.test', ['127.0.0.1']],
    ['stripe.test', ['127.0.0.1']],
  ]);
  const start = async (): Promise<void> => {
    broker = await startBroker({ pki, dir: stateDir, raw, resolver: testResolver(dns) });
  };

  before(async () => {
    tmp = tempDir();
    stateDir = tmp.dir;
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    helpdesk = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    stripe = await startHttpsUpstream({ secret: STRIPE, auth: { kind: 'bearer' }, dnsNames: ['stripe.test'] });
    const caFile = writeCaBundle(tmp.dir, [helpdesk, stripe]);
    raw = baseRawConfig(pki, tmp.dir);
    raw['secrets'] = { 'helpdesk-token': { backend: 'local' }, 'stripe-key': { backend: 'local' } };
    const helpdeskHttp = (paths: string[], context: Record<string, string>) => ({
      base_url: `https://helpdesk.test:${helpdesk.port}`,
      ca_files: [caFile],
      methods: ['PUT', 'GET'],
      paths,
      auth: { bearer: 'helpdesk-token' },
      allow_networks: ['127.0.0.0/8'],
      context,
    });
    raw['actions'] = {
      'tickets.update': { http: helpdeskHttp(['/tickets/{id}'], { ticket: 'path.id' }), resource: 'ticket/{ticket}', default_uses: 2, max_uses: 20, max_ttl: '2h' },
      'notes.write': { http: helpdeskHttp(['/notes/{id}'], { note: 'path.id' }), resource: 'note/{note}', max_uses: 5 },
      'billing.refund': {
        http: {
          base_url: `https://stripe.test:${stripe.port}`,
          ca_files: [caFile],
          methods: ['POST'],
          paths: ['/v1/refunds'],
          auth: { bearer: 'stripe-key' },
          allow_networks: ['127.0.0.0/8'],
          context: { amount: 'body.amount' },
        },
        resource: 'stripe',
      },
    };
    writeFileSync(
      path.join(String(raw['policies']), 'test-binding.cedar'),
      [
        // Item 10: a permit that needs params must allow the uses of the lease it granted.
        '@id("notes-with-reason") @reason("test") permit (principal in Group::"support", action == Action::"notes.write", resource)',
        'when { context.params has reason && context.params.reason == "customer asked" };',
        // Item 3: the policy caps uses below the action's max_uses.
        '@id("notes-capped") @reason("test") @max_uses("3") permit (principal in Group::"support", action == Action::"notes.write", resource)',
        'when { context.params has reason && context.params.reason == "capped" };',
      ].join('\n'),
    );
    await seedLocalSecrets(raw, { 'helpdesk-token': TOKEN, 'stripe-key': STRIPE });
    await start();
  });
  after(async () => {
    await broker?.close();
    await helpdesk?.close();
    await stripe?.close();
    tmp?.cleanup();
  });
  beforeEach(() => {
    helpdesk.requests.length = 0;
    stripe.requests.length = 0;
  });

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  const requestLease = (req: Record<string, unknown>) => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', req);
  const invoke = (req: Record<string, unknown>) => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', req);
  const granted = async (req: Record<string, unknown>): Promise<NonNullable<LeaseResponse__Output['lease']>> => {
    const r = await requestLease(req);
    assert.equal(r.status, 'GRANTED', JSON.stringify(r.explanation));
    return r.lease!;
  };
  const entries = (from = 0): Promise<Entry[]> => readEntries<Entry>(broker.app.ledger!, from);

  describe('item 1: the resource is rendered by the broker, never taken from the agent', () => {
    it('refuses a lease whose stated resource differs from the one its params render, before any decision', async () => {
      const size = broker.app.ledger!.size;
      await expectCode(
        requestLease({ action: 'tickets.update', resource: 'ticket/T-1', params: params({ ticket: 'T-999' }) }),
        grpc.status.INVALID_ARGUMENT,
        /resource.*ticket\/T-999/,
      );
      assert.equal(broker.app.ledger!.size, size, 'no decision evidence for a refused request');
      assert.deepEqual(await broker.app.store.listLeases({ agent: 'support-bot', action: 'tickets.update', limit: 100 }).then((l) => l.filter((x) => x.context['ticket'] === 'T-999')), []);
    });

    it('fills in an empty resource, and the lease and its evidence show the rendered value', async () => {
      const size = broker.app.ledger!.size;
      const l = await granted({ action: 'tickets.update', params: params({ ticket: 'T-7' }) });
      assert.equal(l.resource, 'ticket/T-7');
      assert.equal((await broker.app.store.getLease(l.leaseId))!.resource, 'ticket/T-7');
      const ev = await entries(size);
      assert.deepEqual(ev.map((e) => [e.type, e.resource]), [['decision', 'ticket/T-7'], ['lease.issued', 'ticket/T-7']]);
      // The same, stated exactly, is fine.
      assert.equal((await granted({ action: 'tickets.update', resource: 'ticket/T-7', params: params({ ticket: 'T-7' }) })).resource, 'ticket/T-7');
    });

    it('a fixed resource: empty is filled in, anything else is refused', async () => {
      assert.equal((await granted({ action: 'billing.refund', params: params({ amount: 500 }) })).resource, 'stripe');
      await expectCode(requestLease({ action: 'billing.refund', resource: 'paypal', params: params({ amount: 500 }) }), grpc.status.INVALID_ARGUMENT, /resource/);
    });

    it('refuses a value that is not one segment of [A-Za-z0-9._~-], naming the field', async () => {
      for (const bad of ['T-1/../T-2', 'T 1', 'T-1?x', '']) {
        await expectCode(requestLease({ action: 'tickets.update', params: params({ ticket: bad }) }), grpc.status.INVALID_ARGUMENT, /params\.ticket/);
      }
    });

    it('refuses a one-shot Invoke whose stated resource differs from the call, and sends nothing', async () => {
      const size = broker.app.ledger!.size;
      await expectCode(
        invoke({ action: 'tickets.update', resource: 'ticket/T-1', method: 'PUT', path: '/tickets/T-555', body: Buffer.from('{}') }),
        grpc.status.INVALID_ARGUMENT,
        /resource/,
      );
      assert.equal(helpdesk.requests.length, 0, 'nothing reached the upstream');
      assert.equal(broker.app.ledger!.size, size, 'no decision evidence for a refused request');
    });

    it('a one-shot Invoke with no resource runs on the rendered one', async () => {
      const size = broker.app.ledger!.size;
      const res = await invoke({ action: 'tickets.update', method: 'PUT', path: '/tickets/T-556', body: Buffer.from('{}') });
      assert.equal(res.statusCode, 200);
      const ev = await entries(size);
      assert.deepEqual(
        ev.filter((e) => e.resource !== undefined).map((e) => e.resource),
        ev.filter((e) => e.resource !== undefined).map(() => 'ticket/T-556'),
      );
      assert.ok(ev.some((e) => e.type === 'invoke.intent' && e.resource === 'ticket/T-556'));
    });

    it('an Invoke on a lease stating another resource is FAILED_PRECONDITION, before the use is spent', async () => {
      const l = await granted({ action: 'tickets.update', params: params({ ticket: 'T-20' }), maxUses: 1 });
      await expectCode(invoke({ leaseId: l.leaseId, resource: 'ticket/T-21', method: 'PUT', path: '/tickets/T-20', body: Buffer.from('{}') }), grpc.status.FAILED_PRECONDITION, /resource/);
      assert.equal(helpdesk.requests.length, 0);
      assert.equal((await broker.app.store.getLease(l.leaseId))!.usesLeft, 1);
      assert.equal((await invoke({ leaseId: l.leaseId, resource: 'ticket/T-20', method: 'PUT', path: '/tickets/T-20', body: Buffer.from('{}') })).statusCode, 200);
    });
  });

  describe('item 3: uses granted are capped by config', () => {
    it('asking for 1000 uses gets the action\'s max_uses', async () => {
      assert.equal((await granted({ action: 'tickets.update', params: params({ ticket: 'T-30' }), maxUses: 1000 })).usesLeft, 20);
    });
    it('asking for none gets default_uses; asking for fewer gets that', async () => {
      assert.equal((await granted({ action: 'tickets.update', params: params({ ticket: 'T-31' }) })).usesLeft, 2);
      assert.equal((await granted({ action: 'tickets.update', params: params({ ticket: 'T-31' }), maxUses: 7 })).usesLeft, 7);
      // billing.refund sets neither: default_uses 1.
      assert.equal((await granted({ action: 'billing.refund', params: params({ amount: 100 }) })).usesLeft, 1);
      assert.equal((await granted({ action: 'billing.refund', params: params({ amount: 100 }), maxUses: 500 })).usesLeft, 100, 'max_uses defaults to 100');
    });
    it('the policy\'s @max_uses caps below the action\'s max_uses', async () => {
      assert.equal((await granted({ action: 'notes.write', params: params({ note: 'N-1', reason: 'capped' }), maxUses: 50 })).usesLeft, 3);
      assert.equal((await granted({ action: 'notes.write', params: params({ note: 'N-1', reason: 'customer asked' }), maxUses: 50 })).usesLeft, 5);
    });
    it('TTL is capped the same way: by @max_ttl, and by the action\'s max_ttl', async () => {
      const before = Date.now();
      const l = await granted({ action: 'tickets.update', params: params({ ticket: 'T-32' }), ttlSeconds: 100_000 });
      const exp = Date.parse(l.expiresAt);
      // tickets-update-support carries @max_ttl("900"), below the action's max_ttl of 2h.
      assert.ok(exp <= Date.now() + 900_000 && exp >= before + 899_000, l.expiresAt);
      assert.equal(l.expiresAt, l.maxExpiresAt);
      const r = await granted({ action: 'billing.refund', params: params({ amount: 100 }), ttlSeconds: 100_000 });
      // billing.refund: no @max_ttl, the action's default max_ttl (1h).
      assert.ok(Date.parse(r.expiresAt) <= Date.now() + 3_600_000 && Date.parse(r.expiresAt) >= before + 3_599_000, r.expiresAt);
    });
  });

  describe('item 10: uses and renewals re-decide with the params the lease was granted for', () => {
    it('a permit that needs params allows the uses of its lease', async () => {
      const l = await granted({ action: 'notes.write', params: params({ note: 'N-2', reason: 'customer asked' }), maxUses: 2 });
      const res = await invoke({ leaseId: l.leaseId, method: 'PUT', path: '/notes/N-2', body: Buffer.from('{}') });
      assert.equal(res.statusCode, 200);
      const renewed = await call<unknown, LeaseResponse__Output>(agent(), 'RenewLease', { leaseId: l.leaseId, ttlSeconds: 60 });
      assert.equal(renewed.lease!.leaseId, l.leaseId);
    });

    it('refuses params over 8 KiB at RequestLease, naming params', async () => {
      await expectCode(requestLease({ action: 'notes.write', params: params({ note: 'N-3', reason: 'customer asked', pad: 'x'.repeat(9000) }) }), grpc.status.INVALID_ARGUMENT, /params/);
    });

    it('a forbid on context.params added later is enforced at the next use and renewal', async () => {
      const l = await granted({ action: 'tickets.update', params: params({ ticket: 'T-40', frozen: 'yes' }), maxUses: 5 });
      assert.equal((await invoke({ leaseId: l.leaseId, method: 'PUT', path: '/tickets/T-40', body: Buffer.from('{}') })).statusCode, 200);
      const other = await granted({ action: 'tickets.update', params: params({ ticket: 'T-41', frozen: 'no' }), maxUses: 5 });
      // The policy set changes under the running leases (a restart reloads it).
      await broker.close();
      const frozen = path.join(String(raw['policies']), 'test-frozen.cedar');
      writeFileSync(frozen, '@id("tickets-frozen") @reason("frozen tickets") forbid (principal, action == Action::"tickets.update", resource) when { context.params has frozen && context.params.frozen == "yes" };');
      try {
        await start();
        helpdesk.requests.length = 0;
        await expectDeniedCall(invoke({ leaseId: l.leaseId, method: 'PUT', path: '/tickets/T-40', body: Buffer.from('{}') }), { hint: /forbidden by tickets-frozen/ });
        assert.equal(helpdesk.requests.length, 0, 'nothing sent');
        const renew = await expectDeniedCall(call(agent(), 'RenewLease', { leaseId: l.leaseId, ttlSeconds: 60 }), { code: grpc.status.FAILED_PRECONDITION });
        assert.match(renew.err.details, /policy/);
        // A lease whose params the forbid does not match keeps working.
        assert.equal((await invoke({ leaseId: other.leaseId, method: 'PUT', path: '/tickets/T-41', body: Buffer.from('{}') })).statusCode, 200);
      } finally {
        await broker.close();
        writeFileSync(frozen, '');
        await start();
      }
    });
  });

  describe('item 9: lease.renewed is committed with the renewal, or not at all', () => {
    it('renewals racing revocations never leave a lease.renewed for a refused or later-revoked renewal', async () => {
      const size = broker.app.ledger!.size;
      const leases = await Promise.all(Array.from({ length: 30 }, (_, i) => granted({ action: 'tickets.update', params: params({ ticket: `R-${i}` }), ttlSeconds: 60 })));
      const outcomes = await Promise.all(
        leases.map(async (l, i) => {
          // Both orders of sending, so that each side wins some races.
          const renewing = () => call<unknown, LeaseResponse__Output>(agent(), 'RenewLease', { leaseId: l.leaseId, ttlSeconds: 120 });
          const revoking = () => call(agent(), 'RevokeLease', { leaseId: l.leaseId, reason: 'race' });
          const [renew] = i % 2 ? await Promise.allSettled([renewing(), revoking()]) : await Promise.allSettled([revoking(), renewing()]).then(([a, b]) => [b, a]);
          return { id: l.leaseId, renewed: renew.status === 'fulfilled', err: renew.status === 'rejected' ? (renew.reason as grpc.ServiceError) : undefined };
        }),
      );
      for (const o of outcomes) if (o.err) assert.equal(o.err.code, grpc.status.FAILED_PRECONDITION, o.err.message);
      const ev = await entries(size);
      let refused = 0;
      for (const o of outcomes) {
        const renewedAt = ev.filter((e) => e.type === 'lease.renewed' && e.lease.id === o.id).map((e) => e.index);
        const revokedAt = ev.filter((e) => e.type === 'lease.revoked' && e.lease.id === o.id).map((e) => e.index);
        assert.equal(revokedAt.length, 1, `lease ${o.id} revoked once`);
        if (!o.renewed) {
          refused++;
          assert.deepEqual(renewedAt, [], `lease ${o.id}: the renewal was refused, yet the log says lease.renewed`);
        } else {
          assert.equal(renewedAt.length, 1, `lease ${o.id}: the granted renewal is recorded once`);
          assert.ok(renewedAt[0]! < revokedAt[0]!, `lease ${o.id}: lease.renewed follows its lease.revoked`);
        }
      }
      assert.ok(refused > 0, 'the race happened: some renewals lost to their revocation');
      assert.ok(refused < outcomes.length, 'the race happened: some renewals won');
    });

    it('lease.renewed records the expiry the store kept, never past max TTL', async () => {
      const l = await granted({ action: 'tickets.update', params: params({ ticket: 'T-50' }), ttlSeconds: 60 });
      const size = broker.app.ledger!.size;
      const r = await call<unknown, LeaseResponse__Output>(agent(), 'RenewLease', { leaseId: l.leaseId, ttlSeconds: 100_000 });
      const stored = (await broker.app.store.getLease(l.leaseId))!;
      assert.equal(r.lease!.expiresAt, new Date(stored.expiresAt).toISOString());
      assert.equal(stored.expiresAt, stored.maxExpiresAt, 'capped at max TTL');
      const [renewed] = (await entries(size)).filter((e) => e.type === 'lease.renewed');
      assert.ok(renewed, 'lease.renewed recorded');
      assert.equal(renewed.lease.expires_at, new Date(stored.expiresAt).toISOString());
      assert.ok(Date.parse(renewed.lease.expires_at) <= Date.parse(renewed.lease.max_expires_at));
    });
  });
});
