import * as http from 'node:http';
import * as https from 'node:https';
import type { VaultServer } from './vault-server';

/**
 * A bare HTTP(S) client for tests of the Vault API server: sends exactly what
 * it is told (any method, including LIST) and returns status, headers and
 * the parsed body. TLS is verified against the server's own CA.
 */
export interface VaultCallOptions {
  token?: string;
  namespace?: string;
  body?: unknown;
  /** Client-side timeout (ms); default 10 s. */
  timeoutMs?: number;
  /** A keep-alive agent to reuse connections; default a fresh connection per call. */
  agent?: https.Agent;
}

export interface VaultCallResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON, or undefined for an empty body. */
  body: Record<string, unknown> | undefined;
  text: string;
}

export function vaultCall(server: Pick<VaultServer, 'url' | 'caPem'>, method: string, apiPath: string, o: VaultCallOptions = {}): Promise<VaultCallResult> {
  const url = new URL(`/v1/${apiPath}`, server.url);
  const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
  const headers: Record<string, string> = {};
  if (o.token !== undefined) headers['X-Vault-Token'] = o.token;
  if (o.namespace !== undefined) headers['X-Vault-Namespace'] = o.namespace;
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const opts: https.RequestOptions = { method, headers, timeout: o.timeoutMs ?? 10_000, ...(server.caPem ? { ca: server.caPem } : {}), agent: o.agent ?? false };
    const req = (url.protocol === 'https:' ? https : http).request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> | undefined;
        try {
          body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('client timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(payload);
  });
}
