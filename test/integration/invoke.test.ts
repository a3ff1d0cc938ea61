import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { stringify } from 'yaml';
import { runCapture } from '../helpers/run-cli';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { secretEchoForms, startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { expectCode } from '../helpers/grpc-expect';
import { raceForUses, seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import { expectDenialEntry, expectDeniedCall, expectRefused } from '../helpers/expect-denial';

const TOKEN = 'hd_live_9fK2mQx7Lr4Tz8Wv1Yb6';
const STRIPE = 'sk_live_3Jd8Qw2Lp5Zx9Rt7Vn4Hc1';


describe('Invoke: brokered calls over real mTLS to a real HTTPS upstream', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let helpdesk: HttpsUpstream;
  let stripe: HttpsUpstream;
  let configFile: string;
  // Test DNS: the hostnames the actions use, pointed where each test needs them.
  const dns = new Map<string, string[]>();
  // The race test sets a barrier here.
  const hooks: InvokeHooks = {};

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    helpdesk = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test', 'metadata.test', 'internal.test'] });
    stripe = await startHttpsUpstream({ secret: STRIPE, auth: { kind: 'bearer' }, dnsNames: ['stripe.test'] });
    const caFile = writeCaBundle(tmp.dir, [helpdesk, stripe]);
    dns.set('helpdesk.test', ['127.0.0.1']);
    dns.set('stripe.test', ['127.0.0.1']);
    dns.set('internal.test', ['127.0.0.1']);
    dns.set('metadata.test', ['169.254.169.254']);
    const raw = baseRawConfig(pki, tmp.dir);
    raw['secrets'] = { 'helpdesk-token': { backend: 'local' }, 'stripe-key': { backend: 'local' } };
    const http = (base: string, extra: Record<string, unknown>) => ({ base_url: base, ca_files: [caFile], ...extra });
    raw['actions'] = {
      'tickets.update': {
        http: http(`https://helpdesk.test:${helpdesk.port}`, {
          methods: ['PUT', 'GET'],
          paths: ['/tickets/{id}'],
          auth: { bearer: 'helpdesk-token' },
          allow_networks: ['127.0.0.0/8'],
          allow_headers: ['x-request-note'],
          context: { ticket: 'path.id' },
        }),
        resource: 'ticket/{ticket}',
        max_uses: 20,
      },
      'helpdesk.misc': {
        http: http(`https://helpdesk.test:${helpdesk.port}`, {
          methods: ['GET'],
          paths: ['/echo', '/redirect-away', '/cookie'],
          auth: { bearer: 'helpdesk-token' },
          allow_networks: ['127.0.0.0/8'],
        }),
      },
      'tickets.read': {
        // Same upstream, but without allow_networks: a loopback or metadata address must be refused.
        http: http(`https://internal.test:${helpdesk.port}`, { methods: ['GET'], paths: ['/tickets/{id}'], auth: { bearer: 'helpdesk-token' } }),
      },
      'tickets.meta': {
        http: http(`https://metadata.test:${helpdesk.port}`, { methods: ['GET'], paths: ['/tickets/{id}'], auth: { bearer: 'helpdesk-token' } }),
      },
      'billing.refund': {
        http: http(`https://stripe.test:${stripe.port}`, {
          methods: ['POST'],
          paths: ['/v1/refunds'],
          auth: { bearer: 'stripe-key' },
          allow_networks: ['127.0.0.0/8'],
          context: { amount: 'body.amount' },
        }),
        resource: 'stripe',
        max_uses: 1,
      },
    };
    // Policies for the extra test actions, beside the dev ones.
    writeFileSync(
      path.join(String(raw['policies']), 'test-extra.cedar'),
      ['tickets.read', 'tickets.meta', 'helpdesk.misc']
        .map((a) => `@id("${a}-support") @reason("test") permit (principal in Group::"support", action == Action::"${a}", resource);`)
        .join('\n'),
    );
    await seedLocalSecrets(raw, { 'helpdesk-token': TOKEN, 'stripe-key': STRIPE });
    configFile = path.join(tmp.dir, 'config.yaml');
    writeFileSync(configFile, stringify(raw));
    broker = await startBroker({
      pki,
      dir: tmp.dir,
      raw,
      hooks,
      resolver: testResolver(dns),
    });
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
  const lease = async (ticket: string, maxUses = 5): Promise<string> => {
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', {
      action: 'tickets.update',
      resource: `ticket/${ticket}`,
      params: { fields: { ticket: { stringValue: ticket } } },
      maxUses,
    });
    assert.equal(r.status, 'GRANTED', JSON.stringify(r.explanation));
    return r.lease!.leaseId;
  };
  const invoke = (req: Record<string, unknown>) => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', req);

  it('a permitted call returns the upstream answer; the upstream saw the token, an Idempotency-Key and identity encoding', async () => {
    const id = await lease('T-1');
    const res = await invoke({ leaseId: id, method: 'PUT', path: '/tickets/T-1', body: Buffer.from('{"status":"closed"}'), headers: [{ name: 'x-request-note', value: 'hi' }] });
    assert.equal(res.statusCode, 200);
    const echoed = JSON.parse(res.body.toString()) as { method: string; url: string; body: string };
    assert.equal(echoed.method, 'PUT');
    assert.equal(echoed.url, '/tickets/T-1');
    assert.equal(helpdesk.requests.length, 1);
    const seen = helpdesk.requests[0]!;
    assert.ok(seen.authorized);
    assert.equal(seen.headers['authorization'], `Bearer ${TOKEN}`);
    assert.match(String(seen.headers['idempotency-key']), /^[0-9a-f]{32}$/);
    assert.equal(seen.headers['accept-encoding'], 'identity');
    assert.equal(seen.headers['x-request-note'], 'hi');
    assert.equal(res.leaseId, id);
    assert.equal(res.usesLeft, 4);
    // The next use gets a different idempotency key (derived from lease + use number).
    await invoke({ leaseId: id, method: 'GET', path: '/tickets/T-1' });
    assert.notEqual(helpdesk.requests[1]!.headers['idempotency-key'], seen.headers['idempotency-key']);
  });

  it('an upstream echoing the secret in every form, gzipped and chunked, leaks none of it', async () => {
    for (const encoding of ['', 'gzip', 'br', 'deflate']) {
      const res = await invoke({ action: 'helpdesk.misc', method: 'GET', path: '/echo', query: encoding ? [{ name: 'encoding', value: encoding }] : [] }).catch((e: grpc.ServiceError) => e);
      if (!('statusCode' in res)) assert.fail(`echo ${encoding}: ${(res as grpc.ServiceError).message}`);
      const text = res.body.toString('latin1');
      const headerText = res.headers.map((h) => `${h.name}: ${h.value}`).join('\n');
      for (const [form, value] of Object.entries(secretEchoForms(TOKEN))) {
        assert.ok(!text.includes(value), `body (${encoding || 'identity'}) leaks the ${form} form`);
        assert.ok(!headerText.includes(value), `headers (${encoding || 'identity'}) leak the ${form} form`);
      }
      assert.ok(text.includes('[REDACTED]'));
      assert.ok(!res.headers.some((h) => h.name === 'set-cookie' || h.name === 'content-encoding'));
      const cl = res.headers.find((h) => h.name === 'content-length');
      assert.equal(Number(cl?.value), res.body.length, 'Content-Length recomputed');
    }
    const cookie = await invoke({ action: 'helpdesk.misc', method: 'GET', path: '/cookie' });
    assert.ok(!cookie.headers.some((h) => h.name === 'set-cookie'), 'Set-Cookie is stripped');
  });

  it('a denied call is PERMISSION_DENIED with the explanation in the secretbroker-explanation trailer', async () => {
    const { err, explanation } = await expectDeniedCall(
      call(broker.clientFor('agents', 'analyst-bot').agent, 'Invoke', { action: 'tickets.update', resource: 'ticket/T-1', method: 'GET', path: '/tickets/T-1' }),
    );
    const expl = explanation as { candidates: Array<{ id: string }>; hint: string };
    assert.deepEqual(expl.candidates.map((c) => c.id), ['tickets-update-support']);
    assert.equal(err.details, expl.hint, 'the hint is the status detail');
    assert.equal(helpdesk.requests.length, 0);
    const ledger = broker.app.ledger!;
    const last = JSON.parse((await ledger.getEntry(ledger.size - 1)).bytes.toString()) as { type: string; agent: string; decision: { effect: string }; explanation: { hint: string } };
    assert.deepEqual([last.type, last.agent], ['decision', 'analyst-bot'], 'the denial is evidence too');
    expectDenialEntry(last);
  });

  it('refuses calls outside the template or the lease; none reaches the upstream', async () => {
    const id = await lease('T-1', 20);
    const bad: Array<[Record<string, unknown>, grpc.status]> = [
      [{ path: '/tickets/../admin' }, grpc.status.INVALID_ARGUMENT],
      [{ path: '/tickets/%2e%2e' }, grpc.status.INVALID_ARGUMENT],
      [{ path: '/tickets/T-1%2fadmin' }, grpc.status.INVALID_ARGUMENT],
      [{ path: 'https://evil.example/tickets/T-1' }, grpc.status.INVALID_ARGUMENT],
      [{ path: '//evil.example/tickets/T-1' }, grpc.status.INVALID_ARGUMENT],
      [{ path: '/tickets/T-1\r\nX-Injected: 1' }, grpc.status.INVALID_ARGUMENT],
      [{ path: '/tickets/T-1', headers: [{ name: 'X-HTTP-Method-Override', value: 'DELETE' }] }, grpc.status.INVALID_ARGUMENT],
      [{ path: '/tickets/T-1', method: 'DELETE' }, grpc.status.INVALID_ARGUMENT],
      [{ path: '/tickets/T-2' }, grpc.status.FAILED_PRECONDITION],
    ];
    for (const [over, code] of bad) {
      await expectCode(invoke({ leaseId: id, method: 'PUT', body: Buffer.from('{}'), ...over }), code);
    }
    assert.equal(helpdesk.requests.length, 0, 'nothing reached the upstream');
    const l = await call<unknown, { usesLeft: number }>(agent(), 'GetLease', { leaseId: id });
    assert.equal(l.usesLeft, 20, 'refused calls spend no use');
  });

  it('an amount other than the leased one is refused; the leased amount goes through once', async () => {
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', {
      action: 'billing.refund',
      resource: 'stripe',
      params: { fields: { amount: { numberValue: 5000 } } },
    });
    assert.equal(r.status, 'GRANTED');
    const id = r.lease!.leaseId;
    const send = (body: string) => invoke({ leaseId: id, method: 'POST', path: '/v1/refunds', body: Buffer.from(body), headers: [{ name: 'content-type', value: 'application/json' }] });
    await expectCode(send('{"amount":500000,"charge":"ch_1"}'), grpc.status.FAILED_PRECONDITION, /amount/);
    await expectCode(send('{"amount":5000,"amount":500000}'), grpc.status.INVALID_ARGUMENT);
    await expectCode(send('{"amount":5000.5}'), grpc.status.INVALID_ARGUMENT);
    assert.equal(stripe.requests.length, 0);
    const ok = await send('{"amount":5000,"charge":"ch_1"}');
    assert.equal(ok.statusCode, 200);
    assert.equal(stripe.requests.length, 1);
    await expectCode(send('{"amount":5000,"charge":"ch_1"}'), grpc.status.FAILED_PRECONDITION, /exhausted/);
    assert.equal(stripe.requests.length, 1);
  });

  it('a redirect is not followed', async () => {
    const res = await invoke({ action: 'helpdesk.misc', method: 'GET', path: '/redirect-away' });
    assert.equal(res.statusCode, 302);
    assert.equal(helpdesk.requests.length, 1);
    assert.ok(!res.headers.some((h) => h.name === 'location'), 'a cross-origin Location is dropped');
  });

  it('a hostname resolving to 127.0.0.1 or 169.254.169.254 is refused without allow_networks', async () => {
    for (const action of ['tickets.read', 'tickets.meta']) {
      await expectRefused(invoke({ action, method: 'GET', path: '/tickets/T-1' }), /allow_networks/);
    }
    assert.equal(helpdesk.requests.length, 0);
  });

  it('50 concurrent Invokes on a one-use lease, all past the checks together, make exactly one upstream call', async () => {
    const id = await lease('T-7', 1);
    // A barrier before the use is spent: all 50 pass the status and policy checks before any spends,
    // so only the store's atomic use stands between them and 50 calls (invoke-race.test.ts shows this
    // test failing against a store whose use is read-then-write).
    const race = await raceForUses({ agent: agent(), hooks, leaseId: id, path: '/tickets/T-7' });
    assert.ok(race.barrier.full, `only ${race.barrier.arrived} of 50 Invokes reached the use together`);
    assert.equal(race.ok, 1);
    assert.deepEqual(new Set(race.codes), new Set([grpc.status.FAILED_PRECONDITION]));
    assert.equal(helpdesk.requests.length, 1);
  });

  it('degraded trust stops the next use of a lease granted before', async () => {
    const id = await lease('T-8', 5);
    await invoke({ leaseId: id, method: 'GET', path: '/tickets/T-8' });
    await broker.app.store.setTrust({ agent: 'support-bot', score: 100, updatedAt: Date.now() });
    try {
      await expectDeniedCall(invoke({ leaseId: id, method: 'GET', path: '/tickets/T-8' }), { hint: /trust/ });
    } finally {
      await broker.app.store.setTrust({ agent: 'support-bot', score: 600, updatedAt: Date.now() });
    }
    assert.equal(helpdesk.requests.length, 1);
  });

  it('another agent cannot use the lease (NOT_FOUND)', async () => {
    const id = await lease('T-9', 5);
    await expectCode(call(broker.clientFor('agents', 'analyst-bot').agent, 'Invoke', { leaseId: id, method: 'GET', path: '/tickets/T-9' }), grpc.status.NOT_FOUND);
    assert.equal(helpdesk.requests.length, 0);
  });

  it('the secrets never appear in the logs or the SQLite files (and the log scanned holds the calls made)', async () => {
    // A call whose outbound request carried the token: its log line must be there, or the scan below proves nothing.
    const id = await lease('T-11', 1);
    await invoke({ leaseId: id, method: 'PUT', path: '/tickets/T-11', body: Buffer.from('{"status":"closed"}') });
    const lines = broker.logs.text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = lines.filter((l) => l['msg'] === 'brokered call done');
    assert.ok(
      done.some((l) => l['lease_id'] === id && l['status'] === 200 && typeof l['request_id'] === 'string'),
      `no "brokered call done" line for ${id} among ${lines.length} log lines`,
    );
    assert.ok(done.length >= 5, `only ${done.length} brokered calls logged over the whole suite`);
    assert.ok(lines.some((l) => l['msg'] === 'lease granted' && l['lease_id'] === id), 'the grant is logged');
    const forms = [TOKEN, STRIPE, ...Object.values(secretEchoForms(TOKEN)).filter((v) => v.length > 12)];
    for (const f of readdirSync(tmp.dir).filter((n) => n.startsWith('broker.db'))) {
      const bytes = readFileSync(path.join(tmp.dir, f)).toString('latin1');
      for (const v of forms) assert.ok(!bytes.includes(v), `${f} leaks a form of a secret`);
    }
    for (const v of forms) assert.ok(!broker.logs.text.includes(v), 'the log leaks a form of a secret');
  });

  it('the whole run (grants, denials, brokered calls) exports and verifies offline; one changed byte is rejected naming the entry', async () => {
    const ledger = broker.app.ledger!;
    await ledger.signCheckpoint();
    const types = new Set<string>();
    for (let i = 0; i < ledger.size; i++) types.add(JSON.parse((await ledger.getEntry(i)).bytes.toString()).type as string);
    for (const t of ['policy.loaded', 'decision', 'lease.issued', 'invoke.intent', 'invoke.result']) assert.ok(types.has(t), `the log has ${t} entries`);
    const key = await runCapture(['evidence', 'key', '--config', configFile, '--json']);
    assert.equal(key.code, 0, key.err);
    const vkey = (JSON.parse(key.out) as { verifier_key: string }).verifier_key;
    const out = path.join(tmp.dir, 'export');
    const exp = await runCapture(['evidence', 'export', '--config', configFile, '--out', out]);
    assert.equal(exp.code, 0, exp.err);
    const state = path.join(tmp.dir, 'verifier-state.json');
    const ok = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', state]);
    assert.equal(ok.code, 0, ok.err);
    // No entry carries a secret or a body.
    for (const f of readdirSync(path.join(out, 'entries'))) {
      const text = readFileSync(path.join(out, 'entries', f), 'utf8');
      for (const v of [TOKEN, STRIPE, 'closed', '"amount":5000,"charge"']) assert.ok(!text.includes(v), `${f} holds ${v}`);
    }
    // Flip one byte of one entry.
    const victim = path.join(out, 'entries', '5.json');
    const bytes = readFileSync(victim);
    bytes[bytes.length - 3] ^= 0x01;
    writeFileSync(victim, bytes);
    const bad = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', path.join(tmp.dir, 'state2.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /entry 5\b/);
  });
});
