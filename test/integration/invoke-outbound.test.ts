import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { readEntries } from '../helpers/evidence-entries';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';

const TOKEN = 'hd_live_9fK2mQx7Lr4Tz8Wv1Yb6';
const STRIPE = 'sk_live_3Jd8Qw2Lp5Zx9Rt7Vn4Hc1';

/**
 * The outbound side under attack, over a real daemon and a real HTTPS upstream:
 * parameters smuggled past the bound context (issue 10, item 2), secret forms
 * the scrubber missed (item 8), and the intent digest an auditor recomputes
 * from what the upstream received (item 11).
 */
describe('Invoke: smuggled parameters, hostile upstream answers and the intent digest', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let helpdesk: HttpsUpstream;
  let stripe: HttpsUpstream;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    helpdesk = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    stripe = await startHttpsUpstream({ secret: STRIPE, auth: { kind: 'bearer' }, dnsNames: ['stripe.test'] });
    const caFile = writeCaBundle(tmp.dir, [helpdesk, stripe]);
    const raw = baseRawConfig(pki, tmp.dir);
    raw['secrets'] = { 'helpdesk-token': { backend: 'local' }, 'stripe-key': { backend: 'local' } };
    const http = (base: string, extra: Record<string, unknown>) => ({ base_url: base, ca_files: [caFile], allow_networks: ['127.0.0.0/8'], ...extra });
    raw['actions'] = {
      'tickets.update': {
        http: http(`https://helpdesk.test:${helpdesk.port}`, {
          methods: ['PUT', 'GET'],
          paths: ['/tickets/{id}'],
          auth: { bearer: 'helpdesk-token' },
          allow_headers: ['x-request-note', 'content-type'],
          context: { ticket: 'path.id' },
        }),
        max_uses: 20,
      },
      'helpdesk.misc': {
        http: http(`https://helpdesk.test:${helpdesk.port}`, { methods: ['GET'], paths: ['/hostile/{kind}'], auth: { bearer: 'helpdesk-token' } }),
      },
      'billing.refund': {
        http: http(`https://stripe.test:${stripe.port}`, {
          methods: ['POST'],
          paths: ['/v1/refunds'],
          auth: { bearer: 'stripe-key' },
          context: { amount: 'body.amount' },
        }),
        max_uses: 5,
      },
    };
    writeFileSync(
      path.join(String(raw['policies']), 'test-extra.cedar'),
      '@id("helpdesk-misc-support") @reason("test") permit (principal in Group::"support", action == Action::"helpdesk.misc", resource);',
    );
    await seedLocalSecrets(raw, { 'helpdesk-token': TOKEN, 'stripe-key': STRIPE });
    const dns = new Map([
      ['helpdesk.test', ['127.0.0.1']],
      ['stripe.test', ['127.0.0.1']],
    ]);
    broker = await startBroker({ pki, dir: tmp.dir, raw, resolver: testResolver(dns) });
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
  const invoke = (req: Record<string, unknown>) => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', req);
  const grant = async (action: string, resource: string, fields: Record<string, unknown>, maxUses: number): Promise<string> => {
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action, resource, params: { fields }, maxUses });
    assert.equal(r.status, 'GRANTED', JSON.stringify(r.explanation));
    return r.lease!.leaseId;
  };
  const usesLeft = async (id: string): Promise<number> => (await call<unknown, { usesLeft: number }>(agent(), 'GetLease', { leaseId: id })).usesLeft;
  const hostile = (kind: string, query: Array<[string, string]> = []) =>
    invoke({ action: 'helpdesk.misc', resource: 'helpdesk.misc', method: 'GET', path: `/hostile/${kind}`, query: query.map(([name, value]) => ({ name, value })) });
  /** Either the refusal (UNAVAILABLE, no upstream bytes in it) or the response; the caller checks the response. */
  const refusedOr = async (p: Promise<InvokeResponse__Output>): Promise<InvokeResponse__Output | undefined> => {
    const r = await p.catch((e: grpc.ServiceError) => e);
    if ('statusCode' in r) return r;
    assert.equal(r.code, grpc.status.UNAVAILABLE, `refused as UNAVAILABLE, got ${grpc.status[r.code]}: ${r.details}`);
    assert.ok(!r.details.includes(TOKEN) && !r.details.includes('token='), 'the refusal carries no upstream bytes');
    return undefined;
  };

  describe('item 2: no parameter smuggling', () => {
    it('a lease for amount 5000 (body.amount) refuses POST /v1/refunds?amount=500000 with {"amount":5000}; nothing is sent', async () => {
      const id = await grant('billing.refund', 'billing.refund', { amount: { numberValue: 5000 } }, 5);
      const send = (query: Array<[string, string]>, body = '{"amount":5000}') =>
        invoke({ leaseId: id, method: 'POST', path: '/v1/refunds', query: query.map(([name, value]) => ({ name, value })), body: Buffer.from(body) });
      await expectCode(send([['amount', '500000']]), grpc.status.INVALID_ARGUMENT, /query\."amount".*context field amount/);
      for (const name of ['Amount', 'AMOUNT', 'amount[]', 'amount[x]', '_method', '__METHOD', 'X-HTTP-Method-Override', 'x_http_method', 'X.Method.Override']) {
        await expectCode(send([[name, name.toLowerCase().includes('method') ? 'DELETE' : '500000']]), grpc.status.INVALID_ARGUMENT, /query\./);
      }
      for (const body of ['{"amount":5000,"_method":"DELETE"}', '{"amount":5000,"X-HTTP-Method-Override":"DELETE"}']) {
        await expectCode(send([], body), grpc.status.INVALID_ARGUMENT, /body\./);
      }
      assert.equal(stripe.requests.length, 0, 'the upstream received nothing');
      assert.equal(await usesLeft(id), 5, 'refused calls spend no use');
      const ok = await send([['expand', 'charge']]);
      assert.equal(ok.statusCode, 200, 'an unrelated query parameter still passes');
      assert.equal(stripe.requests.length, 1);
    });

    it('a path-bound ticket cannot be shadowed by a query, JSON or form field named after the field or its source', async () => {
      const id = await grant('tickets.update', 'tickets.update', { ticket: { stringValue: 'T-1' } }, 20);
      const form = { name: 'content-type', value: 'application/x-www-form-urlencoded' };
      const json = { name: 'content-type', value: 'application/json' };
      const bad: Array<Record<string, unknown>> = [
        { query: [{ name: 'id', value: 'T-999' }] },
        { query: [{ name: 'ticket', value: 'T-999' }] },
        { query: [{ name: 'Ticket[]', value: 'T-999' }] },
        { body: Buffer.from('status=closed&id=T-999'), headers: [form] },
        { body: Buffer.from('status=closed&ti%63ket=T-999'), headers: [form] },
        { body: Buffer.from('status=closed;_method=DELETE'), headers: [form] },
        { body: Buffer.from('x-http-method=DELETE'), headers: [form] },
        { body: Buffer.from('{"id":"T-999","status":"closed"}'), headers: [json] },
        { body: Buffer.from('{"_method":"DELETE"}'), headers: [json] },
      ];
      for (const over of bad) await expectCode(invoke({ leaseId: id, method: 'PUT', path: '/tickets/T-1', ...over }), grpc.status.INVALID_ARGUMENT);
      assert.equal(helpdesk.requests.length, 0, 'the upstream received nothing');
      const ok = await invoke({ leaseId: id, method: 'PUT', path: '/tickets/T-1', query: [{ name: 'notify', value: 'no' }], body: Buffer.from('status=closed&comment=ticket+id+fixed'), headers: [form] });
      assert.equal(ok.statusCode, 200);
      assert.equal(helpdesk.requests.length, 1);
    });
  });

  describe('item 8: the scrubber\'s remaining gaps', () => {
    it('a gzip transfer coding is refused (the agent would decompress the secret)', async () => {
      const r = await refusedOr(hostile('te-gzip'));
      if (r) {
        let text = r.body.toString('latin1');
        try {
          text += zlib.gunzipSync(r.body).toString('latin1');
        } catch {
          // not gzip
        }
        assert.ok(!text.includes(TOKEN), 'the agent got the secret through a gzip transfer coding');
        assert.fail('a transfer coding other than chunked must be refused');
      }
      assert.equal(helpdesk.requests.length, 1, 'the call was made; its answer was refused');
    });

    it('a UTF-16 or UTF-32 text body (declared, or shown by a BOM) is refused; an ASCII-compatible charset is scrubbed', async () => {
      const cases: Array<Array<[string, string]>> = [
        [['charset', 'utf-16le']],
        [['charset', 'UTF-16']],
        [['charset', '"utf-16be"']],
        [['charset', 'utf-32']],
        [['bom', '1']],
        [['charset', 'utf-32'], ['bom', '1']],
      ];
      for (const q of cases) {
        const r = await refusedOr(hostile('utf16', q));
        if (r) {
          const text = [r.body.toString('utf16le'), r.body.subarray(2).toString('utf16le'), r.body.toString('latin1').replace(/\0/g, '')].join('\n');
          assert.ok(!text.includes(TOKEN), `${JSON.stringify(q)}: the agent got the secret in UTF-16/32`);
          assert.fail(`${JSON.stringify(q)}: a body that is not ASCII-compatible must be refused`);
        }
      }
      const latin1 = await hostile('latin1');
      assert.equal(latin1.statusCode, 200);
      assert.equal(latin1.body.toString('latin1'), 'token=[REDACTED] caf\xe9');
    });

    it('the raw secret in any case and its hex with \\u00XX- or %XX-escaped digits are scrubbed', async () => {
      const r = await hostile('case');
      const text = r.body.toString('latin1');
      // Undo the escapes independently of the broker and look for the secret and its hex, caselessly.
      const plain = text
        .replace(/\\u00([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
        .replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
        .toLowerCase();
      assert.ok(!plain.includes(TOKEN.toLowerCase()), `the secret in another case leaks: ${text}`);
      assert.ok(!plain.includes(Buffer.from(TOKEN).toString('hex')), `escaped hex leaks: ${text}`);
      assert.equal(text.match(/\[REDACTED\]/g)?.length, 5, text);
    });

    it('base64 wrapped at 76 columns (CRLF, LF, and as JSON \\n) is scrubbed', async () => {
      for (const offset of [45, 46, 47]) {
        const r = await hostile('mime', [['offset', String(offset)]]);
        const text = r.body.toString('latin1');
        const joined = text.replace(/\\r|\\n|\r|\n/g, '');
        for (const run of joined.match(/[A-Za-z0-9+/=]{16,}/g) ?? []) {
          assert.ok(!Buffer.from(run, 'base64').toString('latin1').includes(TOKEN), `offset ${offset}: wrapped base64 leaks the secret`);
        }
        assert.ok((text.match(/\[REDACTED\]/g)?.length ?? 0) >= 4, `offset ${offset}: ${text}`);
      }
    });

    it('header values that only together hold the secret refuse the answer', async () => {
      const r = await refusedOr(hostile('split-headers'));
      if (r) {
        assert.ok(!r.headers.map((h) => h.value).join('').includes(TOKEN), 'the agent got the secret split over headers');
        assert.fail('header values that concatenated hold the secret must refuse the response');
      }
    });

    it('Link and Refresh to another origin are dropped; to the action\'s origin they stay', async () => {
      const away = await hostile('links');
      assert.deepEqual(away.headers.filter((h) => h.name === 'link' || h.name === 'refresh'), [], 'cross-origin Link/Refresh are dropped');
      const same = await hostile('links', [['same', '1']]);
      assert.deepEqual(same.headers.filter((h) => h.name === 'link' || h.name === 'refresh').map((h) => [h.name, h.value]), [
        ['link', '</tickets/T-2>; rel="next"'],
        ['refresh', '0; url=/tickets/T-2'],
      ]);
    });
  });

  describe('item 11: the intent digest covers what was sent', () => {
    it('an auditor recomputes invoke.intent\'s digest from what the upstream received (credential, Host and Connection excluded)', async () => {
      const id = await grant('tickets.update', 'tickets.update', { ticket: { stringValue: 'T-4' } }, 5);
      const res = await invoke({
        leaseId: id,
        method: 'PUT',
        path: '/tickets/T-4',
        query: [{ name: 'notify', value: 'no way' }],
        headers: [{ name: 'X-Request-Note', value: 'first' }, { name: 'content-type', value: 'text/plain' }],
        body: Buffer.from('closed by the bot'),
      });
      assert.equal(res.statusCode, 200);
      const seen = helpdesk.requests[0]!;
      // Recompute independently: METHOD SP URL LF, then "name: value" LF per header (lower-case, sorted), LF, body.
      const sent: Array<[string, string]> = [];
      for (let i = 0; i < seen.rawHeaders.length; i += 2) sent.push([seen.rawHeaders[i]!.toLowerCase(), seen.rawHeaders[i + 1]!]);
      const covered = sent.filter(([n]) => !['authorization', 'host', 'connection'].includes(n)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(covered.map(([n]) => n), ['accept-encoding', 'content-length', 'content-type', 'idempotency-key', 'x-request-note']);
      const canonical = Buffer.concat([
        Buffer.from(`${seen.method} https://${String(seen.headers['host'])}${seen.url}\n`, 'latin1'),
        Buffer.from(covered.map(([n, v]) => `${n}: ${v}\n`).join(''), 'latin1'),
        Buffer.from('\n'),
        seen.body,
      ]);
      const ledger = broker.app.ledger!;
      type Intent = { type: string; lease?: { id: string }; request: { digest: string } };
      const intent = (await readEntries<Intent>(ledger)).find((e) => e.type === 'invoke.intent' && e.lease?.id === id);
      assert.ok(intent, 'the call has an invoke.intent entry');
      assert.equal(intent.request.digest, `sha256:${createHash('sha256').update(canonical).digest('hex')}`);
    });
  });
});
