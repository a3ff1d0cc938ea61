/**
 * One node-vault client per backend, configured from config alone.
 *
 * node-vault falls back to the environment for what it is not given, and some
 * of it cannot be overridden through its options (an empty value counts as
 * "not given"): VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX,
 * VAULT_SKIP_VERIFY; its `debug` output (DEBUG=node-vault) prints request
 * bodies, which carry secret values and AppRole secret ids. So: the endpoint is
 * passed explicitly, the fields it read from the environment are overwritten
 * after construction, debug output is a no-op, and the transport is ours
 * (vault-transport.ts: no proxy variables, TLS always verified).
 *
 * The token never lives in the client: each call passes it in its own
 * `X-Vault-Token` header, so a request without one (AppRole login) sends none.
 */
import NodeVault from 'node-vault';
import { VaultHttpError } from './vault-errors';
import { createVaultTransport, type TransportRequest } from './vault-transport';

export interface VaultClientOptions {
  /** http(s)://host[:port], no path. */
  address: string;
  namespace?: string;
  ca?: Buffer;
  timeoutMs: number;
  maxResponseBytes?: number;
}

export interface VaultCall {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Below /v1/, already validated and encoded. */
  path: string;
  body?: unknown;
  /** The token to send; omitted for unauthenticated calls (login). */
  token?: string;
  signal?: AbortSignal;
}

export interface VaultClient {
  /** Resolves with Vault's JSON body (undefined for 204); rejects with VaultHttpError or VaultTransportError. */
  call(c: VaultCall): Promise<unknown>;
  close(): void;
}

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
const noop = (): void => undefined;

export function createVaultClient(opts: VaultClientOptions): VaultClient {
  const transport = createVaultTransport({
    ...(opts.ca ? { ca: opts.ca } : {}),
    timeoutMs: opts.timeoutMs,
    maxResponseBytes: opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  });
  const client = NodeVault({
    endpoint: opts.address,
    apiVersion: 'v1',
    debug: noop,
    'request-promise': transport.requestPromise,
    noCustomHTTPVerbs: true,
  });
  // Overwrite what node-vault took from the environment.
  client.endpoint = opts.address.replace(/\/+$/, '');
  const mutable = client as unknown as { pathPrefix: string; token: string; namespace: string };
  mutable.pathPrefix = '';
  mutable.token = '';
  mutable.namespace = opts.namespace ?? '';

  return {
    async call(c: VaultCall): Promise<unknown> {
      const req: Omit<TransportRequest, 'uri'> & { path: string } = {
        method: c.method,
        path: `/${c.path}`,
        // X-Vault-Request: as Vault's own clients send it (Vault Agent and Proxy may require it).
        headers: { 'X-Vault-Request': 'true', ...(c.token ? { 'X-Vault-Token': c.token } : {}) },
        ...(c.body !== undefined ? { json: c.body } : {}),
        ...(c.signal ? { signal: c.signal } : {}),
      };
      try {
        return await client.request(req);
      } catch (err) {
        throw fromNodeVault(err);
      }
    },
    close: () => transport.close(),
  };
}

/** node-vault's ApiResponseError → VaultHttpError (status and Vault's `errors` only). */
function fromNodeVault(err: unknown): unknown {
  const response = (err as { response?: { statusCode?: unknown; body?: unknown } } | null)?.response;
  if (response && typeof response.statusCode === 'number') {
    const errors = (response.body as { errors?: unknown } | undefined)?.errors;
    const texts = Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string').map((e) => e.slice(0, 300)).slice(0, 5) : [];
    return new VaultHttpError(response.statusCode, texts);
  }
  return err;
}
