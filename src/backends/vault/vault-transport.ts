/**
 * The HTTP transport node-vault sends through, given to it as its
 * `request-promise` option (node-vault's documented hook for its transport).
 *
 * Why not node-vault's default (axios): axios takes a proxy from
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY / ALL_PROXY unless told `proxy: false`,
 * and node-vault offers no way to say that; it also turns TLS verification off
 * when VAULT_SKIP_VERIFY is set. Here every setting is explicit and comes from
 * config only: one agent per backend with `rejectUnauthorized: true`, the
 * configured CA (else Node's CA store), no proxy, no redirects, a bounded
 * response and a deadline per request.
 */
import * as http from 'node:http';
import * as https from 'node:https';

/** What node-vault hands its transport (the former `request` library's options). */
export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** Ends the request when aborted (our per-operation deadline). */
  signal?: AbortSignal;
}

/** What node-vault expects back. */
export interface TransportResponse {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

export interface VaultTransportOptions {
  /** PEM CA bundle trusted for the Vault server; Node's CA store when absent. */
  ca?: Buffer;
  /** Deadline for one request when the caller's signal has none. */
  timeoutMs: number;
  /** Largest response body accepted. */
  maxResponseBytes: number;
}

/** A transport failure below HTTP: refused, reset, TLS, timeout, oversize or a non-JSON success. */
export class VaultTransportError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'VaultTransportError';
  }
}

export interface VaultTransport {
  /** The shape node-vault's `request-promise` option takes: `defaults()` returns the request function. */
  readonly requestPromise: { defaults(_ignored: unknown): (req: TransportRequest) => Promise<TransportResponse> };
  close(): void;
}

export function createVaultTransport(opts: VaultTransportOptions): VaultTransport {
  // One agent each for https and http addresses, built from config alone. The
  // TLS settings are repeated on every request so no default can slip in.
  const tls = { rejectUnauthorized: true as const, ...(opts.ca ? { ca: opts.ca } : {}) };
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32, ...tls });
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });

  const send = (req: TransportRequest): Promise<TransportResponse> =>
    new Promise<TransportResponse>((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(req.uri);
      } catch {
        reject(new VaultTransportError('bad request URL', 'EBADURL'));
        return;
      }
      const body = req.json === undefined ? undefined : Buffer.from(JSON.stringify(req.json), 'utf8');
      const headers: Record<string, string> = { accept: 'application/json', ...(req.headers ?? {}) };
      if (body) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(body.length);
      }
      const signal = req.signal ?? AbortSignal.timeout(opts.timeoutMs);
      if (signal.aborted) {
        reject(new VaultTransportError('request timed out', 'ETIMEDOUT'));
        return;
      }
      const common = { method: req.method, headers, signal };
      const clientReq =
        url.protocol === 'https:'
          ? https.request(url, { ...common, agent: httpsAgent, ...tls })
          : http.request(url, { ...common, agent: httpAgent });
      let settled = false;
      const onAbort = (): void => {
        fail(new VaultTransportError('request timed out', 'ETIMEDOUT'));
        clientReq.destroy();
      };
      const fail = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        reject(transportError(err, signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      clientReq.on('error', fail);
      clientReq.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxResponseBytes) {
            fail(new VaultTransportError(`response larger than ${opts.maxResponseBytes} bytes`, 'ETOOBIG'));
            res.destroy();
            clientReq.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('close', () => fail(new VaultTransportError('connection closed before the response ended', 'ECONNRESET')));
        res.on('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          if (text.trim() !== '') {
            try {
              parsed = JSON.parse(text);
            } catch {
              // An error page from something in front of Vault: node-vault then reports "Status N".
              if (status >= 200 && status < 300) {
                fail(new VaultTransportError(`status ${status} with a body that is not JSON`, 'EBADJSON'));
                return;
              }
            }
          }
          settled = true;
          signal.removeEventListener('abort', onAbort);
          resolve({ statusCode: status, body: parsed, request: { path: url.pathname } });
        });
      });
      clientReq.end(body);
    });

  return {
    requestPromise: Object.freeze({ defaults: () => send }),
    close: () => {
      httpsAgent.destroy();
      httpAgent.destroy();
    },
  };
}

function transportError(err: unknown, signal: AbortSignal): VaultTransportError {
  if (err instanceof VaultTransportError) return err;
  if (signal.aborted) return new VaultTransportError('request timed out', 'ETIMEDOUT');
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'EIO';
  // Node's messages name only the address and the failure (never headers or bodies).
  const message = err instanceof Error ? err.message : 'request failed';
  return new VaultTransportError(message, code);
}
