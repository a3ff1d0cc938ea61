import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { startInvokeBroker } from '../helpers/invoke-broker';

type Struct = { fields: Record<string, { stringValue?: string; numberValue?: number }> };
const params = (p: Record<string, string | number>): Struct => ({
  fields: Object.fromEntries(Object.entries(p).map(([k, v]) => [k, typeof v === 'number' ? { numberValue: v } : { stringValue: v }])),
});
const pair = (name: string, value: string) => ({ name, value });

/**
 * Red-team review of issue 10 over the real daemon and a real HTTPS upstream:
 * the attacks on the binding (invariant 6) that got through the merged fixes.
 * Each test failed before its fix.
 */
describe('red team: authority binding and smuggling, over the real daemon', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let b: Awaited<ReturnType<typeof startInvokeBroker>>;
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    b = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      policies: {
        'redteam.cedar': [
          '@id("refund-query") @reason("t") permit (principal, action in [Action::"refund.query", Action::"refund.gzip"], resource);',
          '@id("orders-status") @reason("t") permit (principal, action == Action::"orders.status", resource);',
          // A permit written for leases, where params.amount is the bound amount.
          '@id("pay-small") @reason("t") permit (principal, action == Action::"pay.body", resource) when { context.params has amount && context.params.amount <= 1000 };',
          '@id("notes") @reason("t") permit (principal, action == Action::"notes.body", resource);',
        ].join('\n'),
      },
      actions: (http) => ({
        // The bound amount is in the query; a body is free text (no body fields declared).
        'refund.query': { http: http({ methods: ['POST'], paths: ['/v1/refunds'], allow_headers: ['content-type'], context: { amount: 'query.amount' } }), resource: 'stripe' },
        // An operator who lets agents compress their bodies (Jetty's GzipHandler, Go middleware inflate them).
        'refund.gzip': { http: http({ methods: ['POST'], paths: ['/v1/refunds'], allow_headers: ['content-type', 'content-encoding'], context: { amount: 'query.amount' } }), resource: 'stripe' },
        'orders.status': { http: http({ methods: ['POST'], paths: ['/orders'], allow_headers: ['content-type'], context: { status: 'query.status' } }), resource: 'orders' },
        'pay.body': { http: http({ methods: ['POST'], paths: ['/pay'], context: { amount: 'body.amount' } }), resource: 'pay' },
        'notes.body': { http: http({ methods: ['POST'], paths: ['/notes'], context: { note: 'body.note' } }), resource: 'note/{note}' },
      }),
    });
  });
  after(async () => {
    await b?.close();
    tmp?.cleanup();
  });
  beforeEach(() => {
    b.upstream.requests.length = 0;
  });

  const agent = () => b.broker.clientFor('agents', 'support-bot').agent;
  const invoke = (req: Record<string, unknown>) => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', req);
  const requestLease = (req: Record<string, unknown>) => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', req);
  const refund = (body: Buffer, headers: Array<{ name: string; value: string }> = []) =>
    invoke({ action: 'refund.query', method: 'POST', path: '/v1/refunds', query: [pair('amount', '5000')], headers, body });

  describe('a body that looks like a JSON object is read as one, whatever it is labelled', () => {
    // Go handlers commonly json.NewDecoder(r.Body).Decode(&v) whatever the Content-Type: the last
    // duplicate wins and anything after the first value is ignored. Before the fix a body the
    // strict parser refused was taken for "not JSON" and sent without its names checked.
    const smuggled: Array<[string, Buffer, Array<{ name: string; value: string }>]> = [
      ['a duplicate key', Buffer.from('{"x":1,"x":2,"amount":500000}'), []],
      ['trailing bytes after the object', Buffer.from('{"amount":500000} x'), []],
      ['a UTF-8 byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"amount":500000}')]), []],
      ['a duplicate key labelled text/x-json', Buffer.from('{"amount":1,"amount":500000}'), [pair('content-type', 'text/x-json')]],
      ['JSON labelled as a form', Buffer.from('{"amount":500000}'), [pair('content-type', 'application/x-www-form-urlencoded')]],
      // Jackson (objectMapper.readValue(request.getInputStream())) detects UTF-16 and UTF-32 JSON by its first bytes.
      ['UTF-16BE JSON', Buffer.from('{"amount":500000}', 'utf16le').swap16(), [pair('content-type', 'text/plain')]],
      ['UTF-16BE JSON after a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('{"amount":500000}', 'utf16le').swap16()]), []],
      ['UTF-32BE JSON', Buffer.concat(Array.from('{"amount":500000}', (c) => Buffer.from([0, 0, 0, c.charCodeAt(0)]))), []],
    ];
    for (const [label, body, headers] of smuggled) {
      it(`refuses ${label} and sends nothing`, async () => {
        await expectCode(refund(body, headers), grpc.status.INVALID_ARGUMENT, /body/);
        assert.equal(b.upstream.requests.length, 0);
      });
    }

    it('refuses a form body in a charset that is not ASCII-compatible (a servlet decodes names and values with it)', async () => {
      // Tomcat splits a form on the bytes & and =, then decodes each name and value in the declared
      // charset: these bytes read "amount=500000" as UTF-16LE, while the broker saw NUL-laden names.
      const utf16 = Buffer.concat([Buffer.from('amount', 'utf16le'), Buffer.from('='), Buffer.from('500000', 'utf16le')]);
      for (const charset of ['utf-16le', '"UTF-16"', 'utf-32']) {
        await expectCode(refund(utf16, [pair('content-type', `application/x-www-form-urlencoded; charset=${charset}`)]), grpc.status.INVALID_ARGUMENT, /headers\.content-type/);
      }
      assert.equal(b.upstream.requests.length, 0);
    });

    it('refuses a form name that PHP cuts at a NUL into a context field (amount%00x)', async () => {
      // PHP registers variables by C string: "amount\0x" is filed as $_POST['amount'], and $_REQUEST lets it win.
      for (const body of ['amount%00x=500000', 'reason=a&amount%00=500000']) {
        await expectCode(refund(Buffer.from(body), [pair('content-type', 'application/x-www-form-urlencoded')]), grpc.status.INVALID_ARGUMENT, /shadow the context field amount/);
      }
      assert.equal(b.upstream.requests.length, 0);
    });

    it('refuses a compressed request body (Content-Encoding): the broker cannot check what it cannot read', async () => {
      const body = gzipSync(Buffer.from('amount=500000'));
      await expectCode(
        invoke({ action: 'refund.gzip', method: 'POST', path: '/v1/refunds', query: [pair('amount', '5000')], headers: [pair('content-type', 'application/x-www-form-urlencoded'), pair('content-encoding', 'gzip')], body }),
        grpc.status.INVALID_ARGUMENT,
        /headers\.content-encoding/,
      );
      assert.equal(b.upstream.requests.length, 0);
      // identity is no encoding: allowed
      await invoke({ action: 'refund.gzip', method: 'POST', path: '/v1/refunds', query: [pair('amount', '5000')], headers: [pair('content-encoding', 'identity')], body: Buffer.from('hello') });
      assert.equal(b.upstream.requests.length, 1);
    });

    it('still sends a plain-text body and a form body that shadow nothing', async () => {
      await refund(Buffer.from('reason=duplicate'), [pair('content-type', 'application/x-www-form-urlencoded; charset=UTF-8')]);
      b.upstream.requests.length = 0;
      await refund(Buffer.from('please refund {order 7}'), [pair('content-type', 'text/plain')]);
      await refund(Buffer.from('reason=duplicate'), [pair('content-type', 'application/x-www-form-urlencoded')]);
      assert.equal(b.upstream.requests.length, 2);
    });
  });

  describe('names that fold to a context field under Unicode compatibility', () => {
    // Go's encoding/json matches keys to struct fields with Unicode case folding, where
    // U+017F (long s) is an "s" and U+212A (Kelvin) a "k"; NFKC maps them and fullwidth forms too.
    it('refuses a body key "\\u017ftatus" beside query.status', async () => {
      await expectCode(
        invoke({ action: 'orders.status', method: 'POST', path: '/orders', query: [pair('status', 'open')], headers: [pair('content-type', 'application/json')], body: Buffer.from('{"\u017ftatus":"refunded"}') }),
        grpc.status.INVALID_ARGUMENT,
        /shadow the context field status/,
      );
      assert.equal(b.upstream.requests.length, 0);
    });
    it('refuses a fullwidth query name beside query.status', async () => {
      await expectCode(
        invoke({ action: 'orders.status', method: 'POST', path: '/orders', query: [pair('status', 'open'), pair('\uff53\uff54\uff41\uff54\uff55\uff53', 'refunded')] }),
        grpc.status.INVALID_ARGUMENT,
        /shadow the context field status/,
      );
      assert.equal(b.upstream.requests.length, 0);
    });
  });

  describe('a one-shot Invoke: the params the policy sees agree with the call', () => {
    it('refuses params.amount = 5 beside a body with amount 500000 (the permit reads context.params.amount)', async () => {
      const size = b.broker.app.ledger!.size;
      await expectCode(
        invoke({ action: 'pay.body', params: params({ amount: 5 }), method: 'POST', path: '/pay', body: Buffer.from('{"amount":500000}') }),
        grpc.status.INVALID_ARGUMENT,
        /params\.amount/,
      );
      assert.equal(b.upstream.requests.length, 0);
      assert.equal(b.broker.app.ledger!.size, size, 'refused before any decision');
    });
    it('checks the purpose as RequestLease does (no control characters), rather than storing it cut', async () => {
      await expectCode(
        invoke({ action: 'pay.body', params: params({ amount: 5 }), purpose: 'refund\n\u001b[2Jok', method: 'POST', path: '/pay', body: Buffer.from('{"amount":5}') }),
        grpc.status.INVALID_ARGUMENT,
        /purpose/,
      );
      assert.equal(b.upstream.requests.length, 0);
    });

    it('still sends a call whose params agree with it', async () => {
      await invoke({ action: 'pay.body', params: params({ amount: 5 }), method: 'POST', path: '/pay', body: Buffer.from('{"amount":5}') });
      assert.equal(b.upstream.requests.length, 1);
    });
  });

  describe('resource template values', () => {
    for (const v of ['.', '..']) {
      it(`refuses "${v}" as a whole value (it is no segment: "note/${v}")`, async () => {
        await expectCode(requestLease({ action: 'notes.body', params: params({ note: v }) }), grpc.status.INVALID_ARGUMENT, /params\.note/);
        await expectCode(
          invoke({ action: 'notes.body', method: 'POST', path: '/notes', body: Buffer.from(JSON.stringify({ note: v })) }),
          grpc.status.INVALID_ARGUMENT,
          /context\.note/,
        );
        assert.equal(b.upstream.requests.length, 0);
      });
    }
  });
});
