import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as zlib from 'node:zlib';
import { createTestCa } from './test-ca';

/**
 * A real HTTPS upstream on 127.0.0.1:0 with its own CA, standing in for an API
 * a brokered call targets. It demands the injected credential (401 otherwise)
 * and records every request that reaches it, so tests can assert what did and
 * did not get through the broker.
 *
 * Routes:
 *   /echo[?encoding=gzip|br|deflate]  the secret in every form, in the body and in headers, chunked
 *   /redirect-away                    302 to another host
 *   /redirect-same                    302 to a path on the same origin
 *   /cookie                           200 with Set-Cookie
 *   /huge?bytes=N[&declare=1]         N bytes (chunked, or with Content-Length when declare=1)
 *   /bomb?bytes=N                     gzip of N zero bytes, Content-Encoding: gzip
 *   /hang                             never answers
 *   /hold?bytes=N                     200 and N bytes of body, then never ends
 *   /hostile/<kind>                   the secret in a form the scrubber once missed (see hostileResponse)
 *   anything else                     200 JSON { method, url, body }
 */

export type UpstreamAuth =
  | { kind: 'bearer' }
  | { kind: 'basic'; username: string }
  | { kind: 'header'; header: string; prefix?: string };

export interface RecordedRequest {
  readonly method: string;
  /** The request target exactly as received. */
  readonly url: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  readonly authorized: boolean;
}

export interface HttpsUpstream {
  readonly port: number;
  /** PEM of the CA that issued the server certificate. */
  readonly caPem: string;
  /** Every request received, in order (including refused ones). */
  readonly requests: RecordedRequest[];
  /** https://<host>:<port>, host defaulting to the first DNS name. */
  origin(host?: string): string;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  secret: string;
  auth: UpstreamAuth;
  /** DNS SANs of the server certificate; IP SAN 127.0.0.1 is always added. */
  dnsNames?: readonly string[];
}

/**
 * The secret as an echoing upstream might return it. Computed here, apart
 * from the broker's scrubber, so tests check the scrubber against an
 * independent list. Base64 forms embed the secret at byte offsets 0, 1 and 2
 * of a longer string.
 */
export function secretEchoForms(secret: string): Record<string, string> {
  const s = Buffer.from(secret, 'utf8');
  const b64 = (prefix: string, suffix: string, enc: 'base64' | 'base64url'): string =>
    Buffer.concat([Buffer.from(prefix), s, Buffer.from(suffix)]).toString(enc);
  const jsonInner = JSON.stringify(secret).slice(1, -1);
  const everyChar = (f: (code: number) => string): string => Array.from(secret, (c) => f(c.charCodeAt(0))).join('');
  const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
  const upperUrl = encodeURIComponent(secret).replace(/[!'()*]/g, (c) => `%${hex2(c.charCodeAt(0)).toUpperCase()}`);
  return {
    raw: secret,
    base64_0: s.toString('base64'),
    base64_1: b64('x', 'yz', 'base64'),
    base64_2: b64('xy', 'z', 'base64'),
    base64_long: b64('some header:', '-and-a-tail', 'base64'),
    base64url_0: s.toString('base64url'),
    base64url_1: b64('x', 'yz', 'base64url'),
    base64url_2: b64('xy', 'z', 'base64url'),
    hex_lower: s.toString('hex'),
    hex_upper: s.toString('hex').toUpperCase(),
    json: jsonInner,
    json_slash: jsonInner.replace(/\//g, '\\/'),
    json_u_lower: everyChar((c) => `\\u00${hex2(c)}`),
    json_u_upper: everyChar((c) => `\\u00${hex2(c).toUpperCase()}`),
    url_upper: upperUrl,
    url_lower: upperUrl.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    url_form: new URLSearchParams({ v: secret }).toString().slice(2),
    url_every_byte: Array.from(s, (b) => `%${hex2(b).toUpperCase()}`).join(''),
    html_entities: everyChar((c) => `&#${c};`),
  };
}

/** Base64 of a blob holding the secret at `offset`, wrapped like MIME (RFC 2045: 76 columns). */
export function wrappedBase64(secret: string, offset: number, eol: string): string {
  const blob = Buffer.concat([Buffer.alloc(offset, 0x41), Buffer.from(secret), Buffer.from(' and some more text after it')]);
  return (blob.toString('base64').match(/.{1,76}/g) ?? []).join(eol);
}

/**
 * Hostile answers, one per form a secret can hide in (`/hostile/<kind>`):
 *   utf16?charset=<label>&bom=1   the body in UTF-16LE (UTF-32LE for a utf-32 label), with or without a BOM
 *   latin1                        text/plain; charset=iso-8859-1 holding the raw secret (ASCII-compatible)
 *   case                          the raw secret upper-cased, and its hex with \u00XX- or %XX-escaped digits
 *   mime?offset=N                 base64 wrapped at 76 columns (CRLF, LF) and inside a JSON string (\n)
 *   split-headers                 the secret split over two header values
 *   links?same=1                  Link and Refresh to another origin (or, with same=1, to this one)
 */
export function hostileResponse(kind: string, secret: string, q: URLSearchParams): { headers: Record<string, string>; body: Buffer } {
  const hex = Buffer.from(secret).toString('hex');
  switch (kind) {
    case 'utf16': {
      const label = q.get('charset') ?? '';
      const text = `{"token":"${secret}"}`;
      const utf32 = /32/.test(label);
      const encoded = utf32 ? Buffer.concat(Array.from(text, (c) => Buffer.from([c.charCodeAt(0), 0, 0, 0]))) : Buffer.from(text, 'utf16le');
      const bom = q.get('bom') === '1' ? Buffer.from(utf32 ? [0xff, 0xfe, 0, 0] : [0xff, 0xfe]) : Buffer.alloc(0);
      return { headers: { 'content-type': label ? `application/json; charset=${label}` : 'application/json' }, body: Buffer.concat([bom, encoded]) };
    }
    case 'latin1':
      return { headers: { 'content-type': 'text/plain; charset=iso-8859-1' }, body: Buffer.from(`token=${secret} caf\xe9`, 'latin1') };
    case 'case': {
      const escU = Array.from(hex, (c) => `\\u00${c.charCodeAt(0).toString(16)}`).join('');
      const escP = Array.from(hex.toUpperCase(), (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('');
      const lines = [
        `upper=${secret.toUpperCase()}`,
        `swapped=${Array.from(secret, (c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('')}`,
        `json={"hex":"${escU}"}`,
        `url=hex%3D${escP}`,
        `mixed=${Array.from(hex.toUpperCase(), (c, i) => (i % 2 ? c : `\\u00${c.charCodeAt(0).toString(16)}`)).join('')}`,
      ];
      return { headers: { 'content-type': 'text/plain' }, body: Buffer.from(lines.join('\n')) };
    }
    case 'mime': {
      const offset = Number(q.get('offset') ?? '0');
      const crlf = wrappedBase64(secret, offset, '\r\n');
      const lf = wrappedBase64(secret, offset, '\n');
      const body = `--b\r\nContent-Transfer-Encoding: base64\r\n\r\n${crlf}\r\n--b\r\n${lf}\n${JSON.stringify({ attachment: lf, crlf })}\n`;
      return { headers: { 'content-type': 'text/plain' }, body: Buffer.from(body) };
    }
    case 'split-headers': {
      const cut = Math.floor(secret.length / 2);
      return { headers: { 'content-type': 'text/plain', 'x-part-a': secret.slice(0, cut), 'x-part-b': secret.slice(cut) }, body: Buffer.from('ok') };
    }
    case 'links': {
      const target = q.get('same') === '1' ? '/tickets/T-2' : 'https://elsewhere.test/steal?sig=capability';
      return { headers: { 'content-type': 'text/plain', link: `<${target}>; rel="next"`, refresh: `0; url=${target}` }, body: Buffer.from('ok') };
    }
    default:
      return { headers: { 'content-type': 'text/plain' }, body: Buffer.from(`unknown hostile kind ${kind}`) };
  }
}

function expectedCredential(auth: UpstreamAuth, secret: string): [string, string] {
  switch (auth.kind) {
    case 'bearer':
      return ['authorization', `Bearer ${secret}`];
    case 'basic':
      return ['authorization', `Basic ${Buffer.from(`${auth.username}:${secret}`).toString('base64')}`];
    case 'header':
      return [auth.header.toLowerCase(), `${auth.prefix ?? ''}${secret}`];
  }
}

function sendChunked(res: ServerResponse, body: Buffer, encoding: string | null): void {
  let out: NodeJS.WritableStream = res;
  if (encoding) {
    res.setHeader('content-encoding', encoding);
    const z = encoding === 'gzip' ? zlib.createGzip() : encoding === 'br' ? zlib.createBrotliCompress() : zlib.createDeflate();
    z.pipe(res);
    out = z;
  }
  // Several writes without Content-Length: Node sends Transfer-Encoding: chunked.
  const step = Math.max(1, Math.ceil(body.length / 5));
  for (let i = 0; i < body.length; i += step) out.write(body.subarray(i, i + step));
  out.end();
}

export async function startHttpsUpstream(opts: UpstreamOptions): Promise<HttpsUpstream> {
  const ca = await createTestCa('https-upstream test CA');
  const dnsNames = opts.dnsNames ?? ['upstream.test', 'localhost'];
  const leaf = await ca.issue({ dnsNames, ipAddresses: ['127.0.0.1'] });
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const [credName, credValue] = expectedCredential(opts.auth, opts.secret);
  const forms = secretEchoForms(opts.secret);

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const authorized = req.headers[credName] === credValue;
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers }, rawHeaders: [...req.rawHeaders], body, authorized });
    if (!authorized) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end('{"error":"unauthorized"}');
      return;
    }
    const url = new URL(req.url ?? '/', 'https://upstream.invalid');
    switch (url.pathname) {
      case '/echo': {
        const lines = Object.entries(forms).map(([k, v]) => `${k}=${v}`);
        lines.push(`received_credential=${credValue}`);
        lines.push(`json={"token":${JSON.stringify(opts.secret)}}`);
        res.statusCode = 200;
        res.setHeader('content-type', 'text/plain');
        for (const [k, v] of Object.entries(forms)) res.setHeader(`x-echo-${k.replace(/_/g, '-')}`, v);
        res.setHeader('x-echo-credential', credValue);
        res.setHeader('set-cookie', [`session=${forms.base64_0}; Path=/; HttpOnly`, 'tracking=1']);
        sendChunked(res, Buffer.from(lines.join('\n')), url.searchParams.get('encoding'));
        return;
      }
      case '/redirect-away':
        res.writeHead(302, { location: `https://elsewhere.test/steal?from=upstream`, 'content-type': 'text/plain' });
        res.end('moved');
        return;
      case '/redirect-same':
        res.writeHead(302, { location: '/tickets/T-9', 'content-type': 'text/plain' });
        res.end('moved');
        return;
      case '/cookie':
        res.writeHead(200, { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain' });
        res.end('ok');
        return;
      case '/huge': {
        const n = Number(url.searchParams.get('bytes') ?? '1048576');
        if (url.searchParams.get('declare') === '1') {
          res.writeHead(200, { 'content-length': String(n), 'content-type': 'application/octet-stream' });
          res.end(Buffer.alloc(n, 0x61));
        } else {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          sendChunked(res, Buffer.alloc(n, 0x61), null);
        }
        return;
      }
      case '/bomb': {
        const n = Number(url.searchParams.get('bytes') ?? String(64 * 1024 * 1024));
        const packed = zlib.gzipSync(Buffer.alloc(n), { level: 9 });
        res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(packed.length), 'content-type': 'text/plain' });
        res.end(packed);
        return;
      }
      case '/hang':
        return; // never answers; the socket is destroyed on close()
      case '/hold':
        // N bytes of the body, then nothing more (the call holds them until it ends).
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(Number(url.searchParams.get('bytes') ?? '1024'), 0x61));
        return;
      case '/hostile/te-gzip':
        // A gzip *transfer* coding: Node's client strips only the chunked framing and passes gzip through.
        res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'gzip, chunked' });
        res.end(zlib.gzipSync(Buffer.from(`token=${opts.secret}\n`)));
        return;
      default:
        if (url.pathname.startsWith('/hostile/')) {
          const r = hostileResponse(url.pathname.slice('/hostile/'.length), opts.secret, url.searchParams);
          res.writeHead(200, r.headers);
          res.end(r.body);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
        res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString('utf8') }));
    }
  };

  const server = https.createServer({ key: leaf.keyPem, cert: leaf.chainPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // Handshakes the client aborts (untrusted CA tests) are expected; keep them quiet.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    caPem: ca.certPem,
    requests,
    origin: (host = dnsNames[0]!) => `https://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
