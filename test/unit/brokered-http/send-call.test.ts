import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { BrokerError, type ErrorKind } from '../../../src/lib/errors';
import { SecretValue } from '../../../src/lib/secret-value';
import {
  checkCallBinding,
  defineHttpAction,
  prepareCall,
  sendCall,
  type AgentHttpRequest,
  type CallBinding,
  type HttpActionInit,
  type HttpActionSpec,
  type Resolver,
} from '../../../src/brokered-http';
import { expectRefusalError } from '../../helpers/expect-denial';
import { startHttpsUpstream, type HttpsUpstream } from '../../helpers/https-upstream';
import { createTestCa } from '../../helpers/test-ca';
import { findSecretLeaks } from './leak-check';

// Deliberately awkward: "/", "+", space, quote, backslash, "&", "=", "?", "~".
const SECRET = 'Sk_live/4+Zq "w\\x&y=z?~9Tb';
const secret = SecretValue.fromString(SECRET);
const loopback: Resolver = async () => ['127.0.0.1'];

async function rejectsWith(p: Promise<unknown> | (() => unknown), kind: ErrorKind, message?: RegExp): Promise<BrokerError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    assert.ok(err instanceof BrokerError, `expected BrokerError, got ${String(err)}`);
    assert.equal(err.kind, kind, `kind of "${err.message}"`);
    if (message) assert.match(err.message, message);
    assert.ok(!err.message.includes(SECRET), 'error message must not contain the secret');
    return err;
  }
  assert.fail(`expected a ${kind} BrokerError`);
}

/** An outbound-guard refusal: says why (`why`), and never names the secret. */
async function refusedWith(p: Promise<unknown>, why: RegExp): Promise<BrokerError> {
  const err = await expectRefusalError(p, why);
  assert.ok(!err.message.includes(SECRET), 'error message must not contain the secret');
  return err;
}

describe('brokered-http sendCall over a real HTTPS upstream', function () {
  this.timeout(20_000);
  let upstream: HttpsUpstream;

  const action = (over: Partial<HttpActionInit> = {}): HttpActionSpec =>
    defineHttpAction({
      name: 'tickets.update',
      baseUrl: upstream.origin('upstream.test'),
      methods: ['GET', 'PUT', 'POST'],
      paths: ['/tickets/{id}', '/echo', '/redirect-away', '/redirect-same', '/cookie', '/huge', '/bomb', '/hang'],
      auth: { kind: 'bearer', secret: 'helpdesk-token' },
      allowNetworks: ['127.0.0.0/8'],
      allowHeaders: ['x-request-id'],
      extraCaPem: [upstream.caPem],
      ...over,
    });

  const refund = (over: Partial<HttpActionInit> = {}): HttpActionSpec =>
    action({
      name: 'billing.refund',
      methods: ['POST'],
      paths: ['/v1/refunds'],
      context: { amount: 'body.amount', currency: 'query.currency' },
      integerFields: ['amount'],
      ...over,
    });

  /** What the lead's Invoke does: prepare, check the lease binding, send. */
  async function invoke(spec: HttpActionSpec, req: AgentHttpRequest, bound?: CallBinding, resolver: Resolver = loopback) {
    const prepared = prepareCall(spec, req);
    if (bound) checkCallBinding(prepared, bound);
    return sendCall(prepared, spec, secret, { idempotencyKey: 'lease-7f3a/use-1', resolver });
  }

  before(async () => {
    upstream = await startHttpsUpstream({ secret: SECRET, auth: { kind: 'bearer' } });
  });
  after(async () => {
    await upstream.close();
  });
  beforeEach(() => {
    upstream.requests.length = 0;
  });

  it('performs a permitted call with the credential, Idempotency-Key and identity encoding', async () => {
    const spec = action({ baseUrl: `${upstream.origin('upstream.test')}/api/` });
    const res = await invoke(spec, {
      method: 'PUT',
      path: '/tickets/T-1',
      query: { note: 'a b&c=d' },
      headers: {
        'X-Request-Id': 'req-1',
        Cookie: 'agent=1',
        'X-Forwarded-For': '10.0.0.1',
        'X-Other': 'nope',
        Authorization: 'Bearer agent-supplied',
        'Accept-Encoding': 'gzip',
        Host: 'evil.test',
        'Content-Length': '999',
        'Transfer-Encoding': 'chunked',
        Connection: 'Upgrade',
        Upgrade: 'websocket',
      },
      body: Buffer.from('{"status":"closed"}'),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.equal(res.headers['content-length'], String(res.body.length));
    assert.equal(res.scrubbed, 0);
    assert.ok(res.latencyMs >= 0);
    const echoed = JSON.parse(res.body.toString('utf8')) as { method: string; url: string; body: string };
    assert.deepEqual(echoed, { method: 'PUT', url: '/api/tickets/T-1?note=a%20b%26c%3Dd', body: '{"status":"closed"}' });

    assert.equal(upstream.requests.length, 1);
    const seen = upstream.requests[0]!;
    assert.equal(seen.authorized, true);
    assert.equal(seen.headers.authorization, `Bearer ${SECRET}`);
    assert.equal(seen.headers['idempotency-key'], 'lease-7f3a/use-1');
    assert.equal(seen.headers['accept-encoding'], 'identity');
    assert.equal(seen.headers['content-length'], '19');
    assert.equal(seen.headers.host, `upstream.test:${upstream.port}`);
    assert.equal(seen.headers['x-request-id'], 'req-1');
    for (const h of ['cookie', 'x-forwarded-for', 'x-other', 'transfer-encoding', 'upgrade']) assert.equal(seen.headers[h], undefined, h);
    assert.equal(seen.rawHeaders.filter((h) => h.toLowerCase() === 'authorization').length, 1);
  });

  it('binds JSON bodies: extracts integer context, sets Content-Type, and refuses a different amount', async () => {
    const spec = refund();
    const req = { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":1250,"reason":"dup"}') };
    assert.deepEqual(prepareCall(spec, req).context, { amount: 1250, currency: 'eur' });
    await rejectsWith(invoke(spec, req, { context: { amount: 1000, currency: 'eur' } }), 'failed_precondition', /context field amount/);
    assert.equal(upstream.requests.length, 0);
    const res = await invoke(spec, { ...req, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, { context: { amount: 1250, currency: 'eur' } });
    assert.equal(res.statusCode, 200);
    assert.equal(upstream.requests[0]!.headers['content-type'], 'application/json');
    assert.equal(upstream.requests[0]!.body.toString(), '{"amount":1250,"reason":"dup"}');
  });

  for (const encoding of [undefined, 'gzip', 'br', 'deflate']) {
    it(`scrubs every form of the secret from an echo (${encoding ?? 'identity'}, chunked)`, async () => {
      const res = await invoke(action(), { method: 'GET', path: '/echo', query: encoding ? { encoding } : {} });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(findSecretLeaks(res.body, SECRET), [], `body leaks: ${res.body.toString('latin1')}`);
      for (const [name, value] of Object.entries(res.headers)) {
        assert.deepEqual(findSecretLeaks(value, SECRET), [], `header ${name} leaks: ${value}`);
      }
      assert.ok(res.scrubbed >= 20, `scrubbed ${res.scrubbed}`);
      assert.ok(res.body.toString().includes('[REDACTED]'));
      assert.equal(res.headers['set-cookie'], undefined);
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(res.headers['content-length'], String(res.body.length));
      assert.equal(res.headers['x-echo-raw'], '[REDACTED]');
    });
  }

  it('scrubs an echoed Basic credential and a named-header credential', async () => {
    for (const auth of [
      { up: { kind: 'basic', username: 'svc-user' } as const, spec: { kind: 'basic', username: 'svc-user', secret: 's' } as const },
      { up: { kind: 'header', header: 'x-api-key', prefix: 'Token ' } as const, spec: { kind: 'header', header: 'X-Api-Key', prefix: 'Token ', secret: 's' } as const },
    ]) {
      const other = await startHttpsUpstream({ secret: SECRET, auth: auth.up });
      try {
        const spec = action({ baseUrl: other.origin(), extraCaPem: [other.caPem], auth: auth.spec });
        const res = await invoke(spec, { method: 'GET', path: '/echo', headers: { 'x-api-key': 'agent-key' } });
        assert.equal(res.statusCode, 200, `${auth.up.kind} credential accepted`);
        assert.equal(other.requests[0]!.authorized, true);
        assert.deepEqual(findSecretLeaks(res.body, SECRET), []);
        assert.deepEqual(findSecretLeaks(JSON.stringify(res.headers), SECRET), []);
        assert.match(res.body.toString(), /received_credential=(Basic |Token )?\S*\[REDACTED\]/);
      } finally {
        await other.close();
      }
    }
  });

  it('strips Set-Cookie and recomputes Content-Length', async () => {
    const res = await invoke(action(), { method: 'GET', path: '/cookie' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal(res.headers['content-length'], '2');
  });

  describe('nothing reaches the upstream when the request leaves the template', () => {
    const cases: Array<[string, () => HttpActionSpec, AgentHttpRequest, ErrorKind, CallBinding?]> = [
      ['dot-dot segment', () => action(), { method: 'GET', path: '/tickets/../echo' }, 'invalid_argument'],
      ['%2e%2e', () => action(), { method: 'GET', path: '/tickets/%2e%2e' }, 'invalid_argument'],
      ['%2f in a parameter', () => action(), { method: 'GET', path: '/tickets/a%2fb' }, 'invalid_argument'],
      ['absolute URL', () => action(), { method: 'GET', path: 'https://evil.test/tickets/T-1' }, 'invalid_argument'],
      ['scheme-relative URL', () => action(), { method: 'GET', path: '//evil.test/tickets/T-1' }, 'invalid_argument'],
      ['backslash', () => action(), { method: 'GET', path: '/tickets\\T-1' }, 'invalid_argument'],
      ['CR/LF in the path', () => action(), { method: 'GET', path: '/tickets/T-1\r\nX-Evil: 1' }, 'invalid_argument'],
      ['query inside the path', () => action(), { method: 'GET', path: '/tickets/T-1?admin=1' }, 'invalid_argument'],
      ['CR/LF in a header value', () => action(), { method: 'GET', path: '/tickets/T-1', headers: { 'x-request-id': 'a\r\nx-evil: 1' } }, 'invalid_argument'],
      ['CR/LF in a header name', () => action(), { method: 'GET', path: '/tickets/T-1', headers: [['x-a\r\nx-evil', '1']] }, 'invalid_argument'],
      ['method-override header', () => action(), { method: 'POST', path: '/tickets/T-1', headers: { 'X-HTTP-Method-Override': 'DELETE' } }, 'invalid_argument'],
      ['wrong method', () => action(), { method: 'DELETE', path: '/tickets/T-1' }, 'invalid_argument'],
      ['lower-case method', () => action(), { method: 'put', path: '/tickets/T-1' }, 'invalid_argument'],
      ['another ticket than leased', () => action(), { method: 'PUT', path: '/tickets/T-2' }, 'failed_precondition', { pathParams: { id: 'T-1' } }],
      ['duplicate JSON keys', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":100,"amount":99999}') }, 'invalid_argument'],
      ['case-variant JSON keys', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":100,"Amount":99999}') }, 'invalid_argument'],
      ['nested duplicate JSON keys', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":1,"meta":{"a":1,"a":2}}') }, 'invalid_argument'],
      ['repeated query parameter', () => refund(), { method: 'POST', path: '/v1/refunds', query: [['currency', 'eur'], ['currency', 'usd']], body: Buffer.from('{"amount":1}') }, 'invalid_argument'],
      ['bracket variant of a context query field', () => refund(), { method: 'POST', path: '/v1/refunds', query: [['currency', 'eur'], ['currency[]', 'usd']], body: Buffer.from('{"amount":1}') }, 'invalid_argument'],
      ['fractional amount', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":100.5}') }, 'invalid_argument'],
      ['amount that JSON.parse rounds to an integer', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":100.000000000000001}') }, 'invalid_argument'],
      ['amount beyond 2^53', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":9007199254740993}') }, 'invalid_argument'],
      ['amount as a string', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('{"amount":"100"}') }, 'invalid_argument'],
      ['non-JSON body', () => refund(), { method: 'POST', path: '/v1/refunds', query: { currency: 'eur' }, body: Buffer.from('amount=100') }, 'invalid_argument'],
      ['body over the limit', () => action({ limits: { maxRequestBodyBytes: 8 } }), { method: 'PUT', path: '/tickets/T-1', body: Buffer.alloc(9) }, 'resource_exhausted'],
    ];
    for (const [name, spec, req, kind, bound] of cases) {
      it(name, async () => {
        await rejectsWith(async () => invoke(spec(), req, bound), kind);
        assert.equal(upstream.requests.length, 0);
      });
    }
  });

  it('does not follow a redirect to another host and drops its Location', async () => {
    const res = await invoke(action(), { method: 'GET', path: '/redirect-away' });
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, undefined);
    assert.equal(upstream.requests.length, 1);
  });

  it('keeps a same-origin Location but still does not follow it', async () => {
    const res = await invoke(action(), { method: 'GET', path: '/redirect-same' });
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/tickets/T-9');
    assert.equal(upstream.requests.length, 1);
  });

  describe('the outbound address guard', () => {
    it('refuses a hostname resolving to loopback without allow_networks', async () => {
      const err = await refusedWith(invoke(action({ allowNetworks: [] }), { method: 'GET', path: '/tickets/T-1' }), /127\.0\.0\.1.*allow_networks/);
      assert.match(err.message, /loopback/);
      assert.equal(upstream.requests.length, 0);
    });

    it('refuses the cloud metadata address even when loopback is allowed', async () => {
      const metadata: Resolver = async () => ['169.254.169.254'];
      await refusedWith(invoke(action(), { method: 'GET', path: '/tickets/T-1' }, undefined, metadata), /169\.254\.169\.254/);
      assert.equal(upstream.requests.length, 0);
    });

    it('refuses when any one of several answers is internal', async () => {
      const mixed: Resolver = async () => ['93.184.216.34', '10.1.2.3'];
      await refusedWith(invoke(action(), { method: 'GET', path: '/tickets/T-1' }, undefined, mixed), /10\.1\.2\.3.*private/);
    });

    it('refuses IPv4-mapped IPv6 loopback without allow_networks', async () => {
      const mapped: Resolver = async () => ['::ffff:127.0.0.1'];
      await refusedWith(invoke(action({ allowNetworks: [] }), { method: 'GET', path: '/tickets/T-1' }, undefined, mapped), /IPv4-mapped loopback/);
    });

    it('refuses an IP-literal base URL on loopback without allow_networks', async () => {
      await refusedWith(invoke(action({ baseUrl: upstream.origin('127.0.0.1'), allowNetworks: [] }), { method: 'GET', path: '/tickets/T-1' }), /127\.0\.0\.1.*allow_networks/);
      assert.equal(upstream.requests.length, 0);
    });

    it('allows loopback when allow_networks lists 127.0.0.0/8, and connects to the checked address only', async () => {
      let calls = 0;
      const counting: Resolver = async () => {
        calls++;
        return ['127.0.0.1'];
      };
      const res = await invoke(action(), { method: 'GET', path: '/tickets/T-1' }, undefined, counting);
      assert.equal(res.statusCode, 200);
      assert.equal(calls, 1, 'resolved exactly once');
    });

    it('reports DNS failure as unavailable', async () => {
      const failing: Resolver = async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND upstream.test'), { code: 'ENOTFOUND' });
      };
      await rejectsWith(invoke(action(), { method: 'GET', path: '/tickets/T-1' }, undefined, failing), 'unavailable');
    });
  });

  describe('TLS verification', () => {
    it('refuses a server certificate from an untrusted CA', async () => {
      const stranger = await createTestCa('stranger CA');
      const err = await rejectsWith(invoke(action({ extraCaPem: [stranger.certPem] }), { method: 'GET', path: '/tickets/T-1' }), 'unavailable', /is unavailable$/);
      assert.ok(err.cause instanceof Error);
      assert.equal(upstream.requests.length, 0);
    });

    it('refuses the test CA when it is not configured (Node roots only)', async () => {
      await rejectsWith(invoke(action({ extraCaPem: [] }), { method: 'GET', path: '/tickets/T-1' }), 'unavailable');
      assert.equal(upstream.requests.length, 0);
    });

    it('refuses a certificate that does not name the host', async () => {
      await rejectsWith(invoke(action({ baseUrl: upstream.origin('other.test') }), { method: 'GET', path: '/tickets/T-1' }), 'unavailable');
      assert.equal(upstream.requests.length, 0);
    });

    it('accepts an IP-literal base URL whose certificate has that IP SAN', async () => {
      const res = await invoke(action({ baseUrl: upstream.origin('127.0.0.1') }), { method: 'GET', path: '/tickets/T-1' });
      assert.equal(res.statusCode, 200);
    });
  });

  describe('limits', () => {
    it('refuses a chunked response over the limit', async () => {
      await rejectsWith(invoke(action({ limits: { maxResponseBodyBytes: 1024 } }), { method: 'GET', path: '/huge', query: { bytes: '5000' } }), 'resource_exhausted', /1024 bytes/);
    });

    it('refuses a declared Content-Length over the limit', async () => {
      await rejectsWith(invoke(action({ limits: { maxResponseBodyBytes: 1024 } }), { method: 'GET', path: '/huge', query: { bytes: '5000', declare: '1' } }), 'resource_exhausted');
    });

    it('accepts a response exactly at the limit', async () => {
      const res = await invoke(action({ limits: { maxResponseBodyBytes: 1024 } }), { method: 'GET', path: '/huge', query: { bytes: '1024', declare: '1' } });
      assert.equal(res.body.length, 1024);
    });

    it('refuses a gzip bomb without inflating it', async () => {
      await rejectsWith(
        invoke(action({ limits: { maxResponseBodyBytes: 1024 * 1024 } }), { method: 'GET', path: '/bomb', query: { bytes: String(16 * 1024 * 1024) } }),
        'resource_exhausted',
      );
    });

    it('gives up at the deadline with unavailable', async () => {
      await rejectsWith(invoke(action({ limits: { deadlineMs: 300 } }), { method: 'GET', path: '/hang' }), 'unavailable', /did not answer within 300 ms/);
      assert.equal(upstream.requests.length, 1);
    });

    it('gives up when the TLS handshake does not finish within the connect timeout', async () => {
      const sockets: net.Socket[] = [];
      const silent = net.createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as net.AddressInfo).port;
      try {
        await rejectsWith(
          invoke(action({ baseUrl: `https://upstream.test:${port}`, limits: { connectTimeoutMs: 200 } }), { method: 'GET', path: '/tickets/T-1' }),
          'unavailable',
          /could not connect .* within 200 ms/,
        );
      } finally {
        for (const s of sockets) s.destroy();
        await new Promise((r) => silent.close(r));
      }
    });

    it('stops when the caller cancels', async () => {
      const ac = new AbortController();
      const spec = action();
      const p = sendCall(prepareCall(spec, { method: 'GET', path: '/hang' }), spec, secret, { idempotencyKey: 'k', resolver: loopback, signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      await rejectsWith(p, 'unavailable', /cancelled/);
    });
  });

  it('passes an upstream 401 through without retrying', async () => {
    const res = await sendCall(prepareCall(action(), { method: 'GET', path: '/tickets/T-1' }), action(), SecretValue.fromString('wrong'), {
      idempotencyKey: 'k',
      resolver: loopback,
    });
    assert.equal(res.statusCode, 401);
    assert.equal(upstream.requests.length, 1);
  });

  it('refuses a prepared call aimed at another action or tampered off the template', async () => {
    const prepared = prepareCall(action(), { method: 'GET', path: '/tickets/T-1' });
    await rejectsWith(sendCall(prepared, refund(), secret, { idempotencyKey: 'k', resolver: loopback }), 'internal');
    const tampered = { ...prepared, url: `${upstream.origin('upstream.test')}/admin/keys` };
    await rejectsWith(sendCall(tampered, action(), secret, { idempotencyKey: 'k', resolver: loopback }), 'internal');
    await rejectsWith(sendCall(prepared, action(), secret, { idempotencyKey: 'bad\r\nkey', resolver: loopback }), 'invalid_argument');
    assert.equal(upstream.requests.length, 0);
  });
});
