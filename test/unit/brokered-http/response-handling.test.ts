import { strict as assert } from 'node:assert';
import * as zlib from 'node:zlib';
import { BrokerError } from '../../../src/lib/errors';
import { SecretValue } from '../../../src/lib/secret-value';
import { decodeResponseBody } from '../../../src/brokered-http/response-body';
import { checkTextEncoding, checkTransferEncoding, isAsciiCompatibleCharset } from '../../../src/brokered-http/response-form';
import { scrubResponseHeaders } from '../../../src/brokered-http/response-headers';
import { SecretScrubber } from '../../../src/brokered-http/secret-scrubber';

const SECRET = 'tok_9f8e7d6c5b4a';
const scrubber = SecretScrubber.of(SecretValue.fromString(SECRET));
const run = (raw: string[]) =>
  scrubResponseHeaders(raw, { action: 'a', requestUrl: 'https://api.example.com/v1/x', origin: 'https://api.example.com', scrubber, bodyLength: 42 });

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

  it('drops Link and Refresh headers that point to another origin', () => {
    const keep = run(['Link', '</v1/x?page=2>; rel="next", <https://api.example.com/v1/x?page=9>; rel="last"', 'Refresh', '5', 'refresh', '0; URL=\'/v1/y\'']);
    assert.equal(keep.headers.link, '</v1/x?page=2>; rel="next", <https://api.example.com/v1/x?page=9>; rel="last"');
    assert.equal(keep.headers.refresh, "5, 0; URL='/v1/y'");
    for (const away of ['https://evil.test/a', '//evil.test/a', 'http://api.example.com/a']) {
      const r = run(['Link', `</v1/x>; rel="self", <${away}>; rel="next"`, 'Refresh', `0;url=${away}`, 'Refresh', `3, "${away}"`]);
      assert.equal(r.headers.link, undefined, away);
      assert.equal(r.headers.refresh, undefined, away);
    }
    assert.equal(run(['Link', 'rel="next"']).headers.link, undefined, 'a Link without a target is dropped');
  });

  it('refuses header values that hold the secret only when concatenated, without echoing them', () => {
    for (const raw of [
      ['X-A', SECRET.slice(0, 5), 'X-B', SECRET.slice(5)],
      ['X-A', SECRET.slice(0, 3), 'Vary', 'a', 'X-A', SECRET.slice(3)],
      ['X-A', Buffer.from(SECRET).toString('hex').slice(0, 7), 'X-B', Buffer.from(SECRET).toString('hex').slice(7)],
    ]) {
      assert.throws(
        () => run(raw),
        (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable' && /header values that together hold the secret/.test(e.message) && !e.message.includes(SECRET.slice(0, 5)),
      );
    }
    assert.equal(run(['X-A', SECRET.slice(0, 5), 'X-B', 'unrelated']).headers['x-a'], SECRET.slice(0, 5));
  });

  it('refuses a transfer coding other than chunked', () => {
    checkTransferEncoding('a', ['Transfer-Encoding', 'chunked']);
    checkTransferEncoding('a', ['Content-Type', 'text/plain']);
    for (const raw of [['Transfer-Encoding', 'gzip, chunked'], ['transfer-encoding', 'gzip', 'Transfer-Encoding', 'chunked'], ['Transfer-Encoding', 'chunked, chunked'], ['Transfer-Encoding', 'identity']]) {
      assert.throws(() => checkTransferEncoding('a', raw), (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable' && /Transfer-Encoding other than chunked/.test(e.message));
    }
  });

  it('refuses a charset that is not ASCII-compatible, declared or shown by a BOM', () => {
    for (const label of ['utf-8', 'UTF-8', 'us-ascii', 'iso-8859-1', 'windows-1252', 'shift_jis', 'gb18030', 'koi8-r', 'binary', '']) assert.ok(isAsciiCompatibleCharset(label), label);
    for (const label of ['utf-16', 'UTF-16LE', 'utf-16be', 'unicode', 'ucs-2', 'utf-32', 'utf-7', 'iso-2022-jp', 'iso-2022-kr', 'ebcdic-cp-us', 'no-such-charset']) assert.ok(!isAsciiCompatibleCharset(label), label);
    const ok = Buffer.from('{"a":1}');
    checkTextEncoding('a', ['Content-Type', 'application/json; charset=utf-8'], ok);
    checkTextEncoding('a', ['Content-Type', 'image/png'], Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    checkTextEncoding('a', ['Content-Type', 'text/plain'], Buffer.from([0xef, 0xbb, 0xbf, 0x41]));
    const refusedWith = (raw: string[], body: Buffer, why: RegExp): void =>
      assert.throws(() => checkTextEncoding('a', raw, body), (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable' && why.test(e.message));
    refusedWith(['Content-Type', 'text/plain; charset=UTF-16'], ok, /charset that is not ASCII-compatible/);
    refusedWith(['Content-Type', 'text/plain; format=flowed; charset="utf-32"'], ok, /charset/);
    refusedWith(['Content-Type', 'text/plain', 'Content-Type', 'text/html;charset=utf-16le'], ok, /charset/);
    for (const bom of [[0xff, 0xfe], [0xfe, 0xff], [0xff, 0xfe, 0, 0], [0, 0, 0xfe, 0xff]]) {
      refusedWith(['Content-Type', 'text/plain; charset=utf-8'], Buffer.from([...bom, 0x41, 0]), /byte-order mark/);
      refusedWith([], Buffer.from([...bom, 0x41, 0]), /byte-order mark/);
    }
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
