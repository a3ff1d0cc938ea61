import { strict as assert } from 'node:assert';
import * as zlib from 'node:zlib';
import { BrokerError } from '../../../src/lib/errors';
import { SecretValue } from '../../../src/lib/secret-value';
import { decodeResponseBody } from '../../../src/brokered-http/response-body';
import { scrubResponseHeaders } from '../../../src/brokered-http/response-headers';
import { SecretScrubber } from '../../../src/brokered-http/secret-scrubber';

const SECRET = 'tok_9f8e7d6c5b4a';
const scrubber = SecretScrubber.of(SecretValue.fromString(SECRET));
const run = (raw: string[]) =>
  scrubResponseHeaders(raw, { requestUrl: 'https://api.example.com/v1/x', origin: 'https://api.example.com', scrubber, bodyLength: 42 });

describe('brokered-http response handling', () => {
  it('drops cookies, hop-by-hop, encoding and digest headers and recomputes Content-Length', () => {
    const { headers } = run([
      'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Connection', 'close, X-Hop', 'X-Hop', '1', 'Keep-Alive', 'timeout=5',
      'Proxy-Authenticate', 'Basic', 'Transfer-Encoding', 'chunked', 'Content-Encoding', 'gzip', 'Content-Length', '7',
      'Digest', 'sha-256=abc', 'Upgrade', 'h2c', 'Trailer', 'x', 'Content-Type', 'application/json', 'Vary', 'a', 'vary', 'b',
    ]);
    assert.deepEqual(headers, { 'content-type': 'application/json', vary: 'a, b', 'content-length': '42' });
  });

  it('keeps same-origin Location and drops other origins', () => {
    assert.equal(run(['Location', '/v1/next']).headers.location, '/v1/next');
    assert.equal(run(['Location', 'https://api.example.com/a']).headers.location, 'https://api.example.com/a');
    for (const away of ['https://evil.test/a', '//evil.test/a', 'http://api.example.com/a', 'https://api.example.com:444/a', 'http://[::1', 'javascript:alert(1)']) {
      assert.equal(run(['Location', away, 'Content-Location', away]).headers.location, undefined, away);
      assert.equal(run(['Content-Location', away]).headers['content-location'], undefined, away);
    }
  });

  it('scrubs header values and drops headers whose name carries the secret', () => {
    const r = run(['X-Echo', `Bearer ${SECRET}`, `X-${SECRET}`, '1', 'X-B64', Buffer.from(SECRET).toString('base64')]);
    assert.equal(r.headers['x-echo'], 'Bearer [REDACTED]');
    assert.ok(!Object.keys(r.headers).some((k) => k.includes('tok_')));
    assert.ok(!JSON.stringify(r.headers).includes(SECRET));
    assert.equal(r.count, 3);
  });

  it('decodes stacked content encodings', async () => {
    const plain = Buffer.from('hello '.repeat(100));
    const packed = zlib.brotliCompressSync(zlib.gzipSync(plain));
    assert.deepEqual(await decodeResponseBody('a', packed, 'gzip, br', 10_000), plain);
    assert.deepEqual(await decodeResponseBody('a', zlib.deflateRawSync(plain), 'deflate', 10_000), plain);
    assert.deepEqual(await decodeResponseBody('a', plain, 'identity', 10_000), plain);
  });

  it('refuses output beyond the limit, unknown encodings and corrupt data', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(5_000_000));
    await assert.rejects(decodeResponseBody('a', bomb, 'gzip', 1_000_000), (e: unknown) => e instanceof BrokerError && e.kind === 'resource_exhausted');
    await assert.rejects(decodeResponseBody('a', Buffer.from('x'), 'zstd', 100), (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable');
    await assert.rejects(decodeResponseBody('a', Buffer.from('not gzip'), 'gzip', 100), (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable');
  });
});
