import { strict as assert } from 'node:assert';
import { BrokerError, type ErrorKind } from '../../../src/lib/errors';
import {
  checkCallBinding,
  defineHttpAction,
  prepareCall,
  type AgentHttpRequest,
  type CallBinding,
  type HttpActionInit,
  type HttpActionSpec,
} from '../../../src/brokered-http';

const spec = (over: Partial<HttpActionInit> = {}): HttpActionSpec =>
  defineHttpAction({
    name: 'tickets.update',
    baseUrl: 'https://helpdesk.example.com/api',
    methods: ['GET', 'PUT', 'POST'],
    paths: ['/tickets/{id}', '/search'],
    auth: { kind: 'bearer', secret: 'helpdesk-token' },
    allowHeaders: ['x-request-id', 'content-type', 'if-match'],
    ...over,
  });

const refund = (over: Partial<HttpActionInit> = {}): HttpActionSpec =>
  spec({
    name: 'billing.refund',
    baseUrl: 'https://api.stripe.com',
    methods: ['POST'],
    paths: ['/v1/refunds/{charge}'],
    context: { amount: 'body.amount', charge: 'path.charge', reason: 'body.meta.reason', qty: 'query.qty' },
    integerFields: ['amount', 'qty'],
    ...over,
  });

function refused(req: AgentHttpRequest, s: HttpActionSpec, kind: ErrorKind, message: RegExp): void {
  assert.throws(
    () => prepareCall(s, req),
    (err: unknown) => err instanceof BrokerError && err.kind === kind && message.test(err.message),
  );
}

const body = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('brokered-http prepareCall', () => {
  it('builds the URL from base path, template, params and broker-encoded query', () => {
    const p = prepareCall(spec(), { method: 'GET', path: '/tickets/T-1', query: [['q', "a b/c?d=é&*'()"], ['page', '2']] });
    assert.equal(p.url, "https://helpdesk.example.com/api/tickets/T-1?q=a%20b%2Fc%3Fd%3D%C3%A9%26%2A%27%28%29&page=2");
    assert.equal(p.pathTemplate, '/tickets/{id}');
    assert.deepEqual(p.pathParams, { id: 'T-1' });
    assert.ok(Object.isFrozen(p));
  });

  it('keeps allowed headers and silently drops the rest, including credentials and hop-by-hop headers', () => {
    const p = prepareCall(spec({ auth: { kind: 'header', header: 'X-Helpdesk-Key', secret: 'k' } }), {
      method: 'PUT',
      path: '/tickets/T-1',
      headers: {
        'X-Request-Id': 'r1',
        'If-Match': '"v1"',
        Authorization: 'Bearer mine',
        'X-Helpdesk-Key': 'mine',
        'X-Api-Key': 'mine',
        Cookie: 'a=1',
        'Proxy-Authorization': 'x',
        Connection: 'close',
        'Keep-Alive': '1',
        TE: 'trailers',
        Trailer: 'x',
        'Transfer-Encoding': 'chunked',
        Upgrade: 'h2c',
        'Proxy-Anything': '1',
        Host: 'evil.test',
        'Content-Length': '999',
        'Accept-Encoding': 'gzip',
        'Idempotency-Key': 'mine',
        'X-Forwarded-For': '10.0.0.1',
        Forwarded: 'for=10.0.0.1',
        'X-Unlisted': '1',
      },
    });
    assert.deepEqual(p.headers, { 'x-request-id': 'r1', 'if-match': '"v1"' });
  });

  for (const h of ['X-HTTP-Method-Override', 'x-http-method', 'X-Method-Override', 'X-Original-URL', 'X-Rewrite-URL']) {
    it(`refuses the override header ${h}`, () => refused({ method: 'POST', path: '/search', headers: { [h]: 'DELETE' } }, spec(), 'invalid_argument', /override/));
  }

  it('refuses malformed, repeated and oversized headers', () => {
    refused({ method: 'GET', path: '/search', headers: { 'x-request-id': 'a\nb' } }, spec(), 'invalid_argument', /CR, LF or NUL/);
    refused({ method: 'GET', path: '/search', headers: { 'x-request-id': 'a\0b' } }, spec(), 'invalid_argument', /CR, LF or NUL/);
    refused({ method: 'GET', path: '/search', headers: { 'bad name': 'x' } }, spec(), 'invalid_argument', /HTTP tokens/);
    refused({ method: 'GET', path: '/search', headers: [['X-Request-Id', 'a'], ['x-request-id', 'b']] }, spec(), 'invalid_argument', /appear once/);
    refused({ method: 'GET', path: '/search', headers: { 'x-request-id': 'a'.repeat(9000) } }, spec(), 'invalid_argument', /at most 8192/);
  });

  it('refuses repeated and case-variant query names', () => {
    refused({ method: 'GET', path: '/search', query: [['q', '1'], ['q', '2']] }, spec(), 'invalid_argument', /appear once/);
    refused({ method: 'GET', path: '/search', query: [['q', '1'], ['Q', '2']] }, spec(), 'invalid_argument', /appear once/);
    refused({ method: 'GET', path: '/search', query: { q: '\ud800' } }, spec(), 'invalid_argument', /well-formed/);
  });

  it('refuses a body on GET and an oversized body', () => {
    refused({ method: 'GET', path: '/search', body: body('x') }, spec(), 'invalid_argument', /empty for GET/);
    refused({ method: 'PUT', path: '/tickets/T-1', body: Buffer.alloc(11) }, spec({ limits: { maxRequestBodyBytes: 10 } }), 'resource_exhausted', /at most 10 bytes/);
  });

  it('checks JSON strictly when the agent labels its body JSON, even without body fields', () => {
    refused({ method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': 'application/merge-patch+json' }, body: body('{"a":1,"a":2}') }, spec(), 'invalid_argument', /duplicate key/);
    const p = prepareCall(spec(), { method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': 'text/plain' }, body: body('[1, 2] or so') });
    assert.equal(p.headers['content-type'], 'text/plain');
  });

  it('checks a body that starts like a JSON object strictly whatever its label (a lenient decoder could read a smuggled field)', () => {
    for (const text of ['{"a":1,"a":2}', '{"a":1} trailing', '\ufeff{"a":1}', '{"id": not json']) {
      for (const ct of ['text/plain', 'application/x-www-form-urlencoded']) {
        refused({ method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': ct }, body: body(text) }, spec(), 'invalid_argument', /starts like a JSON object/);
      }
    }
  });

  describe('context fields', () => {
    const ok = { method: 'POST', path: '/v1/refunds/ch_1', query: { qty: '3' }, body: body('{"amount":1250,"meta":{"reason":"dup"}}') };

    it('extracts path, query and nested body fields, integers as numbers', () => {
      const p = prepareCall(refund(), ok);
      assert.deepEqual(p.context, { amount: 1250, charge: 'ch_1', reason: 'dup', qty: 3 });
      assert.equal(p.headers['content-type'], 'application/json');
    });

    it('replaces the agent Content-Type with application/json when body fields are declared', () => {
      const p = prepareCall(refund(), { ...ok, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(p.headers['content-type'], 'application/json');
    });

    const bad: Array<[string, Partial<AgentHttpRequest>, RegExp]> = [
      ['a fraction', { body: body('{"amount":12.5,"meta":{"reason":"x"}}') }, /integer/],
      ['1.0', { body: body('{"amount":1.0,"meta":{"reason":"x"}}') }, /integer/],
      ['an exponent', { body: body('{"amount":1e3,"meta":{"reason":"x"}}') }, /integer/],
      ['-0', { body: body('{"amount":-0,"meta":{"reason":"x"}}') }, /integer/],
      ['a non-safe integer', { body: body('{"amount":9007199254740992,"meta":{"reason":"x"}}') }, /integer/],
      ['a string amount', { body: body('{"amount":"1250","meta":{"reason":"x"}}') }, /JSON integer/],
      ['a missing amount', { body: body('{"meta":{"reason":"x"}}') }, /body\.amount is required/],
      ['an object reason', { body: body('{"amount":1,"meta":{"reason":{}}}') }, /string or an integer/],
      ['a fractional reason', { body: body('{"amount":1,"meta":{"reason":0.5}}') }, /integer/],
      ['a non-integer query field', { query: { qty: '3.0' } }, /decimal integer/],
      ['a leading-zero query field', { query: { qty: '03' } }, /decimal integer/],
      ['a missing query field', { query: {} }, /query\.qty is required/],
      ['a bracket variant of a query field', { query: [['qty', '3'], ['qty[]', '4']] }, /variant of the context field qty/],
      ['a dot variant of a query field', { query: [['qty', '3'], ['QTY.x', '4']] }, /variant/],
      ['an array body', { body: body('[1]') }, /JSON object/],
      ['an empty body', { body: Buffer.alloc(0) }, /JSON object/],
      ['a non-JSON body', { body: body('amount=1') }, /unambiguous JSON/],
      ['duplicate keys', { body: body('{"amount":1,"amount":2,"meta":{"reason":"x"}}') }, /duplicate key/],
    ];
    for (const [name, change, why] of bad) {
      it(`refuses ${name}`, () => refused({ ...ok, ...change }, refund(), 'invalid_argument', why));
    }

    describe('no parameter smuggling', () => {
      const shadowing: Array<[string, Partial<AgentHttpRequest>, RegExp]> = [
        ['a query parameter named after a body field', { query: { qty: '3', amount: '999999' } }, /query\."amount": must not shadow the context field amount \(body\.amount\)/],
        ['a folded variant (case, [], . _ -)', { query: { qty: '3', 'Amount[]': '9' } }, /shadow the context field amount/],
        ['a bracket family', { query: { qty: '3', 'amount[x]': '9' } }, /shadow the context field amount/],
        ['a query parameter named after the source leaf of a nested field', { query: { qty: '3', REASON: 'x' } }, /shadow the context field reason/],
        ['a query parameter named after a path field', { query: { qty: '3', charge: 'ch_2' } }, /shadow the context field charge \(path\.charge\)/],
        ['a top-level body field named after a query field', { body: body('{"amount":1250,"meta":{"reason":"dup"},"qty":30}') }, /body\."qty": must not shadow/],
        ['a top-level body field named after a nested leaf', { body: body('{"amount":1250,"meta":{"reason":"dup"},"reason":"other"}') }, /body\."reason"/],
        ['_method in the query', { query: { qty: '3', _method: 'DELETE' } }, /query\."_method": method and path override/],
        ['__METHOD in the query', { query: { qty: '3', __METHOD: 'DELETE' } }, /override/],
        ['an override header name in the query', { query: { qty: '3', 'X_Http_Method_Override': 'DELETE' } }, /override/],
        ['x-original-url in the query', { query: { qty: '3', 'x.original.url': '/admin' } }, /override/],
        ['_method in a JSON body', { body: body('{"amount":1250,"meta":{"reason":"dup"},"_method":"DELETE"}') }, /body\."_method"/],
      ];
      for (const [name, change, why] of shadowing) {
        it(`refuses ${name}`, () => refused({ ...ok, ...change }, refund(), 'invalid_argument', why));
      }

      it('lets the declared source itself and unrelated names through', () => {
        const p = prepareCall(refund(), { ...ok, query: { qty: '3', amount_cap: '1', expand: 'x' } });
        assert.equal(p.context['qty'], 3);
        assert.equal(p.url, 'https://api.stripe.com/v1/refunds/ch_1?qty=3&amount_cap=1&expand=x');
      });

      const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
      const ticket = spec({ paths: ['/tickets/{id}'], context: { ticket: 'path.id' } });
      for (const [name, text, why] of [
        ['a form field named after the path source', 'status=closed&id=T-9', /body\."id": must not shadow the context field ticket/],
        ['a form field named after the context field, %-encoded', 'status=closed&%54icket=T-9', /body\."Ticket"/],
        ['a form field after ";"', 'status=closed;_method=DELETE', /body\."_method"/],
        ['a form override with + for space', 'x-http-method+=DELETE', /override/],
        ['a malformed form name', 'st%ZZ=1', /bad %-escape/],
      ] as const) {
        it(`refuses ${name}`, () => refused({ method: 'PUT', path: '/tickets/T-1', headers: form, body: body(text) }, ticket, 'invalid_argument', why));
      }

      it('reads form names only from a form body; JSON keys only at the top level', () => {
        prepareCall(ticket, { method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': 'text/plain' }, body: body('id=T-9') });
        refused({ method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': 'text/plain' }, body: body(' \n{"id":"T-9"}') }, ticket, 'invalid_argument', /body\."id"/);
        refused({ method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': 'text/plain' }, body: body('{"id": not json') }, ticket, 'invalid_argument', /body/);
        refused({ method: 'PUT', path: '/tickets/T-1', headers: form, body: body('{"id":"T-9"}') }, ticket, 'invalid_argument', /body\."id"/);
        prepareCall(ticket, { method: 'PUT', path: '/tickets/T-1', headers: form, body: body('status=closed&note=id%3DT-9') });
        prepareCall(ticket, { method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': 'application/json' }, body: body('{"ticket_meta":{"id":"T-9"}}') });
        refused({ method: 'PUT', path: '/tickets/T-1', headers: { 'content-type': 'application/json' }, body: body('{"ID":"T-9"}') }, ticket, 'invalid_argument', /body\."ID"/);
      });
    });

    it('never echoes a huge input in the message', () => {
      try {
        prepareCall(refund(), { ...ok, query: [['qty', '3'], ['x'.repeat(200), '1'], ['X'.repeat(200), '2']] });
        assert.fail('expected refusal');
      } catch (err) {
        assert.ok(err instanceof BrokerError);
        assert.ok(err.message.length < 200, err.message);
      }
    });
  });

  describe('checkCallBinding', () => {
    const p = (): ReturnType<typeof prepareCall> =>
      prepareCall(refund(), { method: 'POST', path: '/v1/refunds/ch_1', query: { qty: '3' }, body: body('{"amount":1250,"meta":{"reason":"dup"}}') });
    const full = { amount: 1250, charge: 'ch_1', reason: 'dup', qty: 3 };

    it('accepts the call that was leased', () => {
      assert.doesNotThrow(() => checkCallBinding(p(), { pathParams: { charge: 'ch_1' }, context: full }));
    });

    it('refuses another path parameter, another value, a type change or a missing field', () => {
      const cases: CallBinding[] = [
        { pathParams: { charge: 'ch_2' } },
        { pathParams: { other: 'x' } },
        { context: { ...full, amount: 1251 } },
        { context: { ...full, amount: '1250' } },
        { context: { amount: 1250, charge: 'ch_1', reason: 'dup' } },
        { context: { ...full, extra: 'x' } },
      ];
      for (const bound of cases) {
        assert.throws(
          () => checkCallBinding(p(), bound),
          (err: unknown) => err instanceof BrokerError && err.kind === 'failed_precondition' && !err.message.includes('1251'),
          JSON.stringify(bound),
        );
      }
    });
  });
});
