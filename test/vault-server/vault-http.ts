import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type * as net from 'node:net';
import { Duplex } from 'node:stream';

/**
 * HTTP plumbing shared by the Vault API server's handlers: Vault's error and
 * response envelopes, its duration syntax, ids, and the socket shim that lets
 * Node's HTTP parser take Vault's `LIST` method.
 */

/** An error answered as Vault answers errors: `{"errors":[...]}` with a status. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly string[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(errors.join('; ') || `HTTP ${status}`);
  }
}

/** What Vault answers when a token's policies do not allow the path (multierror formatting, as Vault prints it). */
export const PERMISSION_DENIED_POLICY = '1 error occurred:\n\t* permission denied\n\n';
/** What Vault answers for a missing, unknown or expired token. */
export const PERMISSION_DENIED_TOKEN = 'permission denied';

export const denied = (text = PERMISSION_DENIED_POLICY): VaultHttpError => new VaultHttpError(403, [text]);
export const badRequest = (text: string): VaultHttpError => new VaultHttpError(400, [text]);
/** Vault's 404 for a missing secret, version or list: an empty errors array. */
export const notFound = (): VaultHttpError => new VaultHttpError(404, []);
export const noRoute = (path: string): VaultHttpError => new VaultHttpError(404, [`no handler for route "${path}". route entry not found.`]);
export const unsupported = (): VaultHttpError => new VaultHttpError(405, ['1 error occurred:\n\t* unsupported operation\n\n']);

/** The body of a logical response (`/v1/...` answering 200): Vault's field set, in Vault's order. */
export interface LogicalResponse {
  data?: Record<string, unknown> | null;
  auth?: Record<string, unknown> | null;
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  warnings?: readonly string[] | null;
  mount_type?: string;
}

export function envelope(r: LogicalResponse): Record<string, unknown> {
  const out: Record<string, unknown> = {
    request_id: randomUUID(),
    lease_id: r.lease_id ?? '',
    renewable: r.renewable ?? false,
    lease_duration: r.lease_duration ?? 0,
    data: r.data ?? null,
    wrap_info: null,
    warnings: r.warnings && r.warnings.length > 0 ? r.warnings : null,
    auth: r.auth ?? null,
  };
  if (r.mount_type !== undefined) out['mount_type'] = r.mount_type;
  return out;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, { 'Cache-Control': 'no-store' });
  res.end();
}

export function sendError(res: ServerResponse, e: VaultHttpError): void {
  sendJson(res, e.status, { errors: e.errors }, e.headers);
}

const UNITS: Readonly<Record<string, number>> = Object.freeze({ s: 1, m: 60, h: 3600, d: 86400 });

/**
 * Seconds from a Vault duration: an integer number of seconds (JSON number or
 * numeric string), or Go-style `1h30m`, `90s`, `10m`, with `d` for days as
 * Vault accepts. Throws a 400 naming the field otherwise.
 */
export function parseDuration(field: string, v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^\d+$/.test(t)) return Number(t);
    const parts = [...t.matchAll(/(\d+)([smhd])/g)];
    if (parts.length > 0 && parts.map((p) => p[0]).join('') === t) return parts.reduce((n, p) => n + Number(p[1]) * UNITS[p[2]!]!, 0);
  }
  throw badRequest(`error converting input ${JSON.stringify(v)} for field "${field}": expected a duration (seconds or e.g. "1h")`);
}

/** Vault prints durations in warnings like Go's time.Duration. */
export function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** n random base62 characters (Vault's lease and token ids are base62). */
export function base62(n: number): string {
  const bytes = randomBytes(n * 2);
  let out = '';
  for (let i = 0; out.length < n && i < bytes.length; i++) if (bytes[i]! < 248) out += BASE62[bytes[i]! % 62];
  return out.length === n ? out : base62(n);
}

/** RFC 3339 as Vault prints it (UTC, fractional seconds). */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString();

/**
 * Node's HTTP parser knows a fixed list of methods, and Vault's `LIST` is not
 * on it. Vault treats `LIST /v1/p` exactly as `GET /v1/p?list=true`, so this
 * shim rewrites the request line of a `LIST` request to that before the parser
 * sees it. Requests start at the beginning of a read chunk because clients
 * send the next request only after the previous response (no pipelining);
 * the shim relies on that. Everything else passes through untouched.
 */
export class ListMethodShim extends Duplex {
  constructor(readonly inner: net.Socket) {
    super();
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(rewriteList(chunk))) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (e) => this.destroy(e));
    inner.on('close', () => this.destroy());
  }
  get remoteAddress(): string | undefined {
    return this.inner.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.inner.remotePort;
  }
  setTimeout(ms: number, cb?: () => void): this {
    this.inner.setTimeout(ms, cb);
    return this;
  }
  setNoDelay(on?: boolean): this {
    this.inner.setNoDelay(on);
    return this;
  }
  setKeepAlive(on?: boolean, delay?: number): this {
    this.inner.setKeepAlive(on, delay);
    return this;
  }
  override _read(): void {
    this.inner.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.inner.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.inner.end(cb);
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }
}

export function rewriteList(chunk: Buffer): Buffer {
  if (chunk.length < 5 || chunk.toString('latin1', 0, 5) !== 'LIST ') return chunk;
  const lineEnd = chunk.indexOf('\r\n');
  if (lineEnd < 0) return chunk;
  const line = chunk.toString('latin1', 0, lineEnd);
  const m = /^LIST (\S+) (HTTP\/1\.[01])$/.exec(line);
  if (!m) return chunk;
  const target = m[1]!;
  const rewritten = `GET ${target}${target.includes('?') ? '&' : '?'}list=true ${m[2]!}`;
  return Buffer.concat([Buffer.from(rewritten, 'latin1'), chunk.subarray(lineEnd)]);
}
