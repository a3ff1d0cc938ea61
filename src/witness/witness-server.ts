import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { BrokerError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { SecretValue } from '../lib/secret-value';
import {
  ADD_CHECKPOINT_PATH,
  DEFAULT_MAX_BODY_BYTES,
  TLOG_SIZE_CONTENT_TYPE,
  formatSizeBody,
  parseAddCheckpointBody,
  type AddCheckpointRequest,
} from './add-checkpoint-wire';
import { WitnessError } from './witness-error';

/*
 * HTTP front of a witness, c2sp.org/tlog-witness:
 *
 *   POST /add-checkpoint           200 signature lines (text/plain)
 *                                  400 malformed body or checkpoint, old size > size
 *                                  403 no valid signature by a trusted log key
 *                                  404 unknown origin
 *                                  409 "<size>\n" (text/x.tlog.size): old size is not the witness's
 *                                  413 body over the limit
 *                                  422 not consistent (fork, bad proof)
 *                                  503 the witness cannot persist its state
 *   GET  /<sha256(origin) hex>/checkpoint   the last cosigned checkpoint (monitoring), or 404
 *
 * Anything else is 404 (unknown path) or 405 (wrong method). Requests carry no
 * authentication: the log's signature on the checkpoint is the authorisation.
 */

/** What the server needs of a witness (Witness implements it). */
export interface WitnessService {
  addCheckpoint(req: AddCheckpointRequest): Promise<{ readonly signatureLines: readonly string[] }>;
  latest(origin: string): { readonly note: string } | undefined;
  readonly origins: readonly string[];
}

export interface WitnessServerOptions {
  witness: WitnessService;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Serve HTTPS with this certificate chain (PEM) and key (PEM). */
  tls?: { cert: string | Buffer; key: SecretValue };
  /** Request body limit; default 64 KiB. */
  maxBodyBytes?: number;
  /** Whole-request deadline (headers and body); default 10 s. */
  requestTimeoutMs?: number;
  /** Concurrent connections; default 256. */
  maxConnections?: number;
  log?: Logger;
}

export interface WitnessServer {
  readonly host: string;
  readonly port: number;
  /** The submission (and monitoring) prefix, e.g. `http://127.0.0.1:7380`. */
  readonly url: string;
  /** Stops accepting, lets requests under way finish (up to 5 s), then closes every connection. */
  close(): Promise<void>;
}

const MONITOR_PATH = /^\/([0-9a-f]{64})\/checkpoint$/;
const CLOSE_GRACE_MS = 5000;

export async function startWitnessServer(opts: WitnessServerOptions): Promise<WitnessServer> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const originByHash = new Map(opts.witness.origins.map((o) => [createHash('sha256').update(o, 'utf8').digest('hex'), o]));
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res, opts.witness, originByHash, maxBody, opts.log).catch((err: unknown) => {
      opts.log?.error({ err }, 'witness: request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  };

  let server: http.Server;
  if (opts.tls) {
    const key = opts.tls.key.reveal();
    try {
      server = https.createServer({ cert: opts.tls.cert, key, minVersion: 'TLSv1.2' }, handler);
    } finally {
      key.fill(0);
    }
  } else {
    server = http.createServer(handler);
  }
  const requestTimeout = opts.requestTimeoutMs ?? 10_000;
  server.requestTimeout = requestTimeout;
  server.headersTimeout = Math.min(requestTimeout, 5000);
  server.keepAliveTimeout = 5000;
  server.maxConnections = opts.maxConnections ?? 256;
  server.maxHeadersCount = 64;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new BrokerError('unavailable', `witness cannot listen on ${opts.host}:${opts.port} (${(err as NodeJS.ErrnoException).code ?? err.message})`, { cause: err }));
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => opts.log?.error({ err }, 'witness: server error'));
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | undefined;
  return {
    host: opts.host,
    port,
    url: `${opts.tls ? 'https' : 'http'}://${hostInUrl}:${port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      })),
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  witness: WitnessService,
  originByHash: ReadonlyMap<string, string>,
  maxBody: number,
  log: Logger | undefined,
): Promise<void> {
  const path = (req.url ?? '').split('?')[0]!;
  if (path === ADD_CHECKPOINT_PATH) {
    if (req.method !== 'POST') return send(res, 405, 'add-checkpoint takes POST\n', { allow: 'POST' });
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) return tooLarge(req, res, maxBody);
    const body = await readBody(req, maxBody);
    if (body === 'too-large') return tooLarge(req, res, maxBody);
    if (body === 'aborted') return;
    try {
      const result = await witness.addCheckpoint(parseAddCheckpointBody(body));
      return send(res, 200, result.signatureLines.join(''));
    } catch (err) {
      if (!(err instanceof WitnessError)) throw err;
      if (err.code === 'WITNESS_CONFLICT') return send(res, 409, formatSizeBody(err.witnessSize ?? 0), { 'content-type': TLOG_SIZE_CONTENT_TYPE });
      if (err.code === 'WITNESS_UNAVAILABLE') log?.error({ err }, 'witness: cannot cosign');
      return send(res, err.httpStatus, `${err.message.split('\n')[0]}\n`);
    }
  }
  const m = MONITOR_PATH.exec(path);
  if (m) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'checkpoint takes GET\n', { allow: 'GET, HEAD' });
    const origin = originByHash.get(m[1]!);
    const latest = origin === undefined ? undefined : witness.latest(origin);
    if (!latest) return send(res, 404, 'no checkpoint cosigned for this log\n');
    return send(res, 200, latest.note);
  }
  return send(res, 404, 'not found\n');
}

/** Reads the body up to `max` bytes. */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let settled = false;
    const finish = (v: Buffer | 'too-large' | 'aborted'): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (chunk: Buffer): void => {
      got += chunk.length;
      if (got > max) {
        req.pause();
        finish('too-large');
      } else chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish(Buffer.concat(chunks)));
    req.once('error', () => finish('aborted'));
    req.once('close', () => finish(req.complete ? Buffer.concat(chunks) : 'aborted'));
  });
}

function tooLarge(req: http.IncomingMessage, res: http.ServerResponse, max: number): void {
  // Answer, then drop the connection rather than read an unbounded body.
  res.once('finish', () => req.socket.destroy());
  send(res, 413, `request body is over ${max} bytes\n`, { connection: 'close' });
}

function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(bytes.length),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(bytes);
}
