import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { systemClock, type Clock } from '../lib/clock';
import { BrokerError, invalidArgument } from '../lib/errors';
import type { SecretValue } from '../lib/secret-value';
import { authHeader } from './auth-injection';
import type { HttpActionSpec } from './http-action';
import { agentPathProblem, matchPath } from './path-template';
import type { PreparedCall } from './prepare-call';
import { outboundHeaders } from './request-digest';
import { decodeResponseBody, tooLarge } from './response-body';
import { checkTextEncoding, checkTransferEncoding } from './response-form';
import type { ResponseBudget } from './response-budget';
import { scrubResponseHeaders } from './response-headers';
import { SecretScrubber } from './secret-scrubber';
import type { TlsContexts } from './tls-contexts';
import { resolveUpstream, systemResolver, type CheckedAddress, type Resolver } from './upstream-address';

export interface SendCallOptions {
  /** Derived from the lease and the use number by the caller; sent as Idempotency-Key. */
  readonly idempotencyKey: string;
  /** DNS for the action's host; defaults to the system resolver (dns.lookup, all answers). */
  readonly resolver?: Resolver;
  /** Cancels the call (e.g. the agent went away). */
  readonly signal?: AbortSignal;
  /** For latencyMs. */
  readonly clock?: Clock;
  /** Reuses each action's TLS context (CA set) across calls; without it one is built per call. */
  readonly tlsContexts?: TlsContexts;
  /** Shared budget of buffered response bytes: each chunk is reserved as it arrives, all released when the call ends. */
  readonly responseBudget?: ResponseBudget;
}

/** The upstream's answer as the agent may see it: decompressed, scrubbed, without cookies or hop-by-hop headers. */
export interface BrokeredResponse {
  readonly statusCode: number;
  /** Lower-case names; Content-Length matches `body`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly latencyMs: number;
  /** How many occurrences of the secret were replaced with [REDACTED]. */
  readonly scrubbed: number;
  /**
   * Where they were, for metrics: `header`, or the body's Content-Encoding
   * (`identity`, `gzip`, `deflate`, `br`; `multiple` for a chain).
   */
  readonly scrubbedIn: Readonly<Record<string, number>>;
}

interface RawResponse {
  statusCode: number;
  rawHeaders: string[];
  body: Buffer;
}

type AbortWhy = 'deadline' | 'connect' | 'cancelled';

/**
 * Performs a prepared call with the secret injected, through the outbound
 * guard: one DNS resolution whose every answer is checked, a connection to
 * exactly the checked address, verified TLS (Node's roots plus the action's
 * CAs), no proxy, no redirects followed, bounded time and size, and a
 * scrubbed answer.
 */
export async function sendCall(prepared: PreparedCall, spec: HttpActionSpec, secret: SecretValue, opts: SendCallOptions): Promise<BrokeredResponse> {
  const clock = opts.clock ?? systemClock;
  const started = clock.now();
  checkPrepared(prepared, spec, opts.idempotencyKey);

  const controller = new AbortController();
  let why: AbortWhy | undefined;
  const abort = (reason: AbortWhy): void => {
    why ??= reason;
    controller.abort();
  };
  const deadline = setTimeout(() => abort('deadline'), spec.limits.deadlineMs);
  const onCancel = (): void => abort('cancelled');
  if (opts.signal?.aborted) onCancel();
  opts.signal?.addEventListener('abort', onCancel, { once: true });

  const scrubber = SecretScrubber.of(secret);
  let reserved = 0;
  const reserve = (n: number): boolean => {
    if (!opts.responseBudget) return true;
    if (!opts.responseBudget.tryReserve(n)) return false;
    reserved += n;
    return true;
  };
  try {
    const target = await untilAborted(resolveUpstream(spec, opts.resolver ?? systemResolver), controller.signal);
    const headers = requestHeaders(prepared, spec, secret, opts.idempotencyKey);
    const raw = await exchange(prepared, spec, target, headers, controller.signal, () => abort('connect'), opts.tlsContexts, reserve);
    checkTransferEncoding(spec.name, raw.rawHeaders);
    const contentEncoding = headerValue(raw.rawHeaders, 'content-encoding');
    const decoded = await decodeResponseBody(spec.name, raw.body, contentEncoding, spec.limits.maxResponseBodyBytes);
    // A decoded body is held beside the raw one: charge it too, or a small compressed body would pass the budget.
    if (decoded !== raw.body && !reserve(decoded.length)) throw overBudget();
    checkTextEncoding(spec.name, raw.rawHeaders, decoded);
    const body = scrubber.scrub(decoded);
    const h = scrubResponseHeaders(raw.rawHeaders, { action: spec.name, requestUrl: prepared.url, origin: spec.origin, scrubber, bodyLength: body.value.length });
    return Object.freeze({
      statusCode: raw.statusCode,
      headers: Object.freeze(h.headers),
      body: body.value,
      latencyMs: Math.max(0, clock.now() - started),
      scrubbed: body.count + h.count,
      scrubbedIn: Object.freeze({ ...(body.count > 0 ? { [encodingLabel(contentEncoding)]: body.count } : {}), ...(h.count > 0 ? { header: h.count } : {}) }),
    });
  } catch (err) {
    throw publicError(err, why, spec, scrubber);
  } finally {
    clearTimeout(deadline);
    opts.signal?.removeEventListener('abort', onCancel);
    if (reserved > 0) opts.responseBudget?.release(reserved);
  }
}

/** PreparedCall is plain data; re-check that it belongs to this action before attaching its credential. */
function checkPrepared(prepared: PreparedCall, spec: HttpActionSpec, idempotencyKey: string): void {
  let url: URL | undefined;
  try {
    url = new URL(prepared.url);
  } catch {
    url = undefined;
  }
  const path = url && url.pathname.startsWith(spec.basePath) ? url.pathname.slice(spec.basePath.length) : undefined;
  const onTemplate = path !== undefined && agentPathProblem(path) === undefined && matchPath(spec.templates, path) !== undefined;
  if (prepared.action !== spec.name || url?.origin !== spec.origin || !onTemplate || !spec.methods.includes(prepared.method)) {
    throw new BrokerError('internal', `prepared call does not belong to action ${spec.name}`);
  }
  if (prepared.body.length > spec.limits.maxRequestBodyBytes) {
    throw new BrokerError('resource_exhausted', `body: must be at most ${spec.limits.maxRequestBodyBytes} bytes for this action`);
  }
  if (typeof idempotencyKey !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
    throw invalidArgument('idempotency_key', 'must be 1 to 255 visible ASCII characters');
  }
}

function requestHeaders(prepared: PreparedCall, spec: HttpActionSpec, secret: SecretValue, idempotencyKey: string): Record<string, string> {
  // What invoke.intent digests, plus the credential.
  const headers = outboundHeaders(prepared, spec, idempotencyKey);
  const [name, value] = authHeader(spec.auth, secret);
  headers[name] = value;
  return headers;
}

/** A lookup that can only answer the checked address, so the socket cannot go anywhere else. */
function pinnedLookup(hostname: string, target: CheckedAddress): LookupFunction {
  return (host, options, callback) => {
    if (host !== hostname) {
      callback(Object.assign(new Error('unexpected host in pinned lookup'), { code: 'EPINNED' }), '', 0);
    } else if (options.all) {
      callback(null, [{ address: target.address, family: target.family }]);
    } else {
      callback(null, target.address, target.family);
    }
  };
}

function exchange(
  prepared: PreparedCall,
  spec: HttpActionSpec,
  target: CheckedAddress,
  headers: Record<string, string>,
  signal: AbortSignal,
  onConnectTimeout: () => void,
  tlsContexts: TlsContexts | undefined,
  reserve: (n: number) => boolean,
): Promise<RawResponse> {
  const url = new URL(prepared.url);
  const limit = spec.limits.maxResponseBodyBytes;
  return new Promise<RawResponse>((resolve, reject) => {
    const req = https.request({
      protocol: 'https:',
      hostname: spec.hostname,
      port: spec.port,
      method: prepared.method,
      path: url.pathname + url.search,
      headers,
      // A fresh connection per call: no pooled socket chosen under other CA or address rules.
      agent: false,
      ...(tlsContexts ? { secureContext: tlsContexts.get(spec) } : { ca: [...tls.rootCertificates, ...spec.extraCaPem] }),
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      // SNI carries host names only; an empty servername keeps Node from sending (and warning about) an IP.
      servername: isIP(spec.hostname) ? '' : spec.hostname,
      lookup: pinnedLookup(spec.hostname, target),
      family: target.family,
      signal,
    });
    req.on('socket', (socket) => {
      const timer = setTimeout(onConnectTimeout, spec.limits.connectTimeoutMs);
      socket.once('secureConnect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        reject(tooLarge(spec.name, limit));
        req.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > limit) {
          reject(tooLarge(spec.name, limit));
          req.destroy();
          return;
        }
        if (!reserve(chunk.length)) {
          reject(overBudget());
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('close', () => {
        if (!res.complete) reject(new Error('upstream closed the connection before the response ended'));
      });
    });
    req.end(prepared.body);
  });
}

const overBudget = (): BrokerError =>
  new BrokerError('resource_exhausted', 'the broker is buffering too many upstream response bytes (server.buffered_response_bytes); try again shortly');

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function headerValue(rawHeaders: readonly string[], name: string): string | undefined {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  return values.length === 0 ? undefined : values.join(',');
}

/**
 * Node errors can carry raw upstream bytes (a parser error's rawPacket may
 * hold the secret echoed back). Keep only name, code and a scrubbed message.
 */
function safeCause(err: unknown, scrubber: SecretScrubber): Error | undefined {
  if (err === undefined) return undefined;
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: unknown };
  const name = e.name === 'Error' ? undefined : e.name;
  const text = [name, e.code, e.message].filter((x) => typeof x === 'string' && x !== '').join(': ') || 'unknown error';
  const safe = new Error(scrubber.scrubString(text.slice(0, 500)).value);
  if (typeof e.code === 'string') Object.assign(safe, { code: e.code });
  return safe;
}

function publicError(err: unknown, why: AbortWhy | undefined, spec: HttpActionSpec, scrubber: SecretScrubber): BrokerError {
  if (err instanceof BrokerError) {
    return err.cause === undefined ? err : new BrokerError(err.kind, err.message, { cause: safeCause(err.cause, scrubber), trailers: { ...err.trailers } });
  }
  const cause = safeCause(err, scrubber);
  const upstream = `the upstream of action ${spec.name}`;
  switch (why) {
    case 'deadline':
      return new BrokerError('unavailable', `${upstream} did not answer within ${spec.limits.deadlineMs} ms`, { cause });
    case 'connect':
      return new BrokerError('unavailable', `could not connect to ${upstream} within ${spec.limits.connectTimeoutMs} ms`, { cause });
    case 'cancelled':
      return new BrokerError('unavailable', `the call to ${upstream} was cancelled`, { cause });
    default:
      return new BrokerError('unavailable', `${upstream} is unavailable`, { cause });
  }
}

/** A body's Content-Encoding as a bounded label (only encodings decodeResponseBody undoes reach here). */
function encodingLabel(contentEncoding: string | undefined): string {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== 'identity');
  if (codings.length === 0) return 'identity';
  if (codings.length > 1) return 'multiple';
  return codings[0] === 'x-gzip' ? 'gzip' : codings[0]!;
}
