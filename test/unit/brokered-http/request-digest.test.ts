import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { canonicalRequest, defineHttpAction, outboundHeaders, prepareCall, sentRequestDigest } from '../../../src/brokered-http';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const spec = defineHttpAction({
  name: 'tickets.update',
  baseUrl: 'https://helpdesk.example.com/api',
  methods: ['GET', 'PUT'],
  paths: ['/tickets/{id}'],
  auth: { kind: 'header', header: 'X-Helpdesk-Key', secret: 'helpdesk-token' },
  allowHeaders: ['x-request-id', 'content-type'],
});

describe('brokered-http request digest (invoke.intent)', () => {
  it('matches a vector computed independently with printf | sha256sum', () => {
    // printf 'PUT https://helpdesk.example.com/api/tickets/T-1?notify=no\naccept-encoding: identity\ncontent-length: 6\ncontent-type: text/plain\nidempotency-key: 0123456789abcdef0123456789abcdef\nx-request-id: r1\n\nclosed' | sha256sum
    const expected = 'd56b496f3579e3049f91ff83ca81257dba6b4d838c9f31dffce586dbc16918e1';
    const prepared = prepareCall(spec, {
      method: 'PUT',
      path: '/tickets/T-1',
      query: { notify: 'no' },
      // Given in another order and case; the credential header and unlisted ones never reach the digest.
      headers: { 'X-Request-Id': 'r1', 'Content-Type': 'text/plain', 'X-Helpdesk-Key': 'agent-supplied', 'X-Other': '1' },
      body: Buffer.from('closed'),
    });
    assert.equal(sentRequestDigest(prepared, spec, '0123456789abcdef0123456789abcdef'), expected);
    const headers = outboundHeaders(prepared, spec, '0123456789abcdef0123456789abcdef');
    assert.equal(sha256(canonicalRequest({ method: prepared.method, url: prepared.url, headers, body: prepared.body })), expected);
  });

  it('a bodyless GET: no content-length, an empty line, nothing after it', () => {
    // printf 'GET https://api.example.com/v1/x\naccept-encoding: identity\nidempotency-key: k\n\n' | sha256sum
    const bytes = canonicalRequest({ method: 'GET', url: 'https://api.example.com/v1/x', headers: { 'idempotency-key': 'k', 'accept-encoding': 'identity' }, body: Buffer.alloc(0) });
    assert.equal(sha256(bytes), 'dacf725ed0b69044573ce569444a0474abf1c6c32a6ad57882d88c5fcdad2ea3');
  });

  it('changes with every part that was sent: method, URL, any header, the idempotency key, the body', () => {
    const base: { method: string; path: string; headers: Record<string, string>; body: Buffer } = { method: 'PUT', path: '/tickets/T-1', headers: { 'x-request-id': 'r1' }, body: Buffer.from('{}') };
    const d = (req: typeof base & { query?: Record<string, string> }, key = 'k1'): string => sentRequestDigest(prepareCall(spec, req), spec, key);
    const seen = new Set([
      d(base),
      d({ ...base, method: 'GET', body: Buffer.alloc(0) }),
      d({ ...base, path: '/tickets/T-2' }),
      d({ ...base, query: { a: '1' } }),
      d({ ...base, headers: { 'x-request-id': 'r2' } }),
      d({ ...base, headers: { 'x-request-id': 'r1', 'content-type': 'application/json' } }),
      d(base, 'k2'),
      d({ ...base, body: Buffer.from('{ }') }),
    ]);
    assert.equal(seen.size, 8);
    // Headers dropped before sending change nothing.
    assert.equal(d({ ...base, headers: { 'x-request-id': 'r1', 'x-unlisted': 'x', Authorization: 'Bearer mine' } }), d(base));
  });

  it('keeps obs-text header bytes as sent (ISO-8859-1), never UTF-8', () => {
    const bytes = canonicalRequest({ method: 'GET', url: 'https://a.example/', headers: { 'x-n': 'caf\u00e9' }, body: Buffer.alloc(0) });
    assert.deepEqual(bytes, Buffer.from('GET https://a.example/\nx-n: caf\xe9\n\n', 'latin1'));
  });
});
