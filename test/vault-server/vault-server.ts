import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { createTestCa } from '../helpers/test-ca';
import { normalizeNamespace, VaultAuth, type AppRoleOptions, type Capability, type PathRules, type Token, type TokenOptions } from './vault-auth';
import { VaultDatabase, type DatabaseRoleOptions, type LeaseInfo } from './vault-database';
import {
  badRequest,
  base62,
  envelope,
  ListMethodShim,
  noRoute,
  notFound,
  PERMISSION_DENIED_POLICY,
  sendError,
  sendJson,
  sendNoContent,
  unsupported,
  VaultHttpError,
  type LogicalResponse,
} from './vault-http';
import { KvStore } from './vault-kv';

/**
 * An in-repo server for the subset of HashiCorp Vault's HTTP API the broker
 * uses (see README.md in this folder for the endpoints and every known
 * difference from real Vault). No Vault server can be had on these machines;
 * this one follows Vault's documented bodies, headers and errors, and a
 * conformance test drives it with Vault's official Go client
 * (test/vault-conformance).
 */

export interface VaultServerOptions {
  /** HTTPS with its own CA (default true); false serves plain HTTP. */
  tls?: boolean;
  /** Where `database/creds/<role>` creates real login roles. */
  postgres?: EphemeralPostgres;
  /** Default: a random `hvs.` token. */
  rootToken?: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** KV v2 mounts (in every namespace). Default `['secret']`. */
  kvMounts?: readonly string[];
  /** How often expired leases are revoked (ms). Default 250. */
  sweepIntervalMs?: number;
}

/** One request as received: never a body, a token or a secret. */
export interface VaultRequestRecord {
  readonly method: string;
  /** The API path after /v1/, without the query. */
  readonly path: string;
  readonly query: string;
  /** The X-Vault-Namespace header, or undefined when not sent. */
  readonly namespace: string | undefined;
  /** Whether an X-Vault-Token header was present. */
  readonly tokenSent: boolean;
  readonly status: number;
}

export interface FailOptions {
  /** Only requests whose API path starts with this (after /v1/). */
  pathPrefix?: string;
  /** The `errors` array answered; defaults by status (Vault's texts). */
  errors?: readonly string[];
}

export interface VaultServer {
  /** https://127.0.0.1:<port> (http:// when tls is false). */
  readonly url: string;
  readonly port: number;
  /** The CA that issued the server certificate (PEM file and text); undefined without TLS. */
  readonly caFile: string | undefined;
  readonly caPem: string | undefined;
  readonly rootToken: string;
  /** Every request received, in order. */
  readonly requests: readonly VaultRequestRecord[];

  /** Writes a KV v2 version (no check-and-set); returns the new version number. */
  putKv(mount: string, secretPath: string, data: Record<string, unknown>, opts?: { namespace?: string; customMetadata?: Record<string, string>; casRequired?: boolean }): number;
  /** Soft-deletes versions (like `POST <mount>/delete/<path>`). */
  deleteKvVersions(mount: string, secretPath: string, versions: readonly number[], opts?: { namespace?: string }): void;
  /** Destroys versions (like `PUT <mount>/destroy/<path>`). */
  destroyKvVersions(mount: string, secretPath: string, versions: readonly number[], opts?: { namespace?: string }): void;
  /** Defines a named ACL policy: path (exact, or prefix ending in `*`) → capabilities. */
  putPolicy(name: string, rules: PathRules): void;
  createToken(opts?: TokenOptions): { token: string; accessor: string };
  revokeToken(token: string): void;
  createAppRole(name: string, opts?: AppRoleOptions): { roleId: string; secretId: string };
  /** Destroys an AppRole secret id: later logins with it fail. */
  destroySecretId(roleId: string, secretId: string): void;
  createDatabaseRole(name: string, opts?: DatabaseRoleOptions): void;
  /** Live database leases (no passwords). */
  leases(): LeaseInfo[];
  /** Revokes expired leases now instead of waiting for the timer. */
  sweepLeases(): Promise<void>;

  /** Sealed: every request but sys/health and sys/seal-status gets 503 `Vault is sealed`. */
  seal(): void;
  unseal(): void;
  /** Outage: closes the listener and every connection (connection refused). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** The next `count` API requests (optionally under a path prefix) get `status` with Vault's error body. */
  failNext(status: number, count?: number, opts?: FailOptions): void;
  /** While on, every API request gets 429 with Retry-After, as a Vault rate-limit quota answers. */
  rateLimit(on: boolean): void;
  /** While on, API requests are read and never answered (for client timeouts). */
  stall(on: boolean): void;
  close(): Promise<void>;
}

const DEFAULT_FAIL_TEXT: Readonly<Record<number, readonly string[]>> = Object.freeze({
  400: ['bad request'],
  403: [PERMISSION_DENIED_POLICY],
  404: [],
  429: ['rate limit quota exceeded'],
  500: ['internal error'],
  502: ['bad gateway'],
  503: ['Vault is sealed'],
});

const MAX_BODY = 1 << 20;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(new VaultHttpError(413, ['request body too large']));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJsonBody(buf: Buffer): Record<string, unknown> {
  if (buf.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw badRequest(`failed to parse JSON input: ${(e as Error).message}`);
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest('failed to parse JSON input: expected a JSON object');
  return v as Record<string, unknown>;
}

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export async function startVaultServer(opts: VaultServerOptions = {}): Promise<VaultServer> {
  const now = (): number => Date.now();
  const useTls = opts.tls ?? true;
  const rootToken = opts.rootToken ?? `hvs.${base62(24)}`;
  const kvMounts = opts.kvMounts ?? ['secret'];
  const auth = new VaultAuth(now);
  auth.addRootToken(rootToken);
  const database = new VaultDatabase(now, opts.postgres, (id) => auth.isLive(id));
  // KV stores per namespace, then per mount.
  const kv = new Map<string, Map<string, KvStore>>();
  const kvStore = (namespace: string, mount: string): KvStore | undefined => {
    if (!kvMounts.includes(mount)) return undefined;
    let ns = kv.get(namespace);
    if (!ns) {
      ns = new Map();
      kv.set(namespace, ns);
    }
    let s = ns.get(mount);
    if (!s) {
      s = new KvStore(now);
      ns.set(mount, s);
    }
    return s;
  };
  const adminKv = (mount: string, namespace?: string): KvStore => {
    const s = kvStore(normalizeNamespace(namespace), mount);
    if (!s) throw new Error(`no KV v2 mount ${mount} (mounts: ${kvMounts.join(', ')})`);
    return s;
  };

  const requests: VaultRequestRecord[] = [];
  let sealed = false;
  let rateLimited = false;
  let stalled = false;
  const failures: { status: number; left: number; opts: FailOptions }[] = [];

  // TLS material and the CA file clients are given.
  let caFile: string | undefined;
  let caPem: string | undefined;
  let tmp: string | undefined;
  let tlsOptions: tls.TlsOptions | undefined;
  if (useTls) {
    const ca = await createTestCa('vault-server test CA');
    const leaf = await ca.issue({ commonName: 'vault.test', dnsNames: ['localhost', 'vault.test'], ipAddresses: ['127.0.0.1'] });
    tmp = mkdtempSync(path.join(tmpdir(), 'sb-vault-'));
    caFile = path.join(tmp, 'vault-ca.pem');
    caPem = ca.certPem;
    writeFileSync(caFile, ca.certPem);
    tlsOptions = { key: leaf.keyPem, cert: leaf.chainPem, minVersion: 'TLSv1.2' };
  }

  /** Capabilities a method needs on a path (Vault: GET read, LIST list, POST/PUT create or update, DELETE delete). */
  const capsFor = (method: string): readonly Capability[] => {
    switch (method) {
      case 'GET':
        return ['read'];
      case 'LIST':
        return ['list'];
      case 'POST':
      case 'PUT':
        return ['create', 'update'];
      case 'DELETE':
        return ['delete'];
      default:
        throw unsupported();
    }
  };

  interface Reply {
    status: number;
    body?: LogicalResponse | Record<string, unknown>;
    raw?: boolean;
    headers?: Record<string, string>;
  }

  const route = async (method: string, apiPath: string, query: URLSearchParams, namespace: string, token: Token | undefined, body: () => Promise<Record<string, unknown>>): Promise<Reply> => {
    const ok = (r: LogicalResponse, status = 200): Reply => ({ status, body: r });
    const t = token!;
    // Token self-service.
    if (apiPath === 'auth/token/lookup-self') {
      if (method !== 'GET' && method !== 'POST' && method !== 'PUT') throw unsupported();
      return ok(auth.lookupSelf(t));
    }
    if (apiPath === 'auth/token/renew-self') {
      if (method !== 'POST' && method !== 'PUT') throw unsupported();
      return ok(auth.renewSelf(t, (await body())['increment']));
    }
    if (apiPath === 'auth/token/revoke-self') {
      if (method !== 'POST' && method !== 'PUT') throw unsupported();
      auth.revokeToken(t.id);
      return { status: 204 };
    }
    // Leases.
    const leaseOp = /^sys\/(?:leases\/)?(renew|revoke|lookup)(?:\/(.+))?$/.exec(apiPath);
    if (leaseOp && !(leaseOp[1] === 'lookup' && !apiPath.startsWith('sys/leases/'))) {
      if (method !== 'POST' && method !== 'PUT') throw unsupported();
      const b = await body();
      const leaseId = leaseOp[2] ?? b['lease_id'];
      if (leaseOp[1] === 'renew') return ok(await database.renew({ ...b, lease_id: leaseId }, namespace));
      if (leaseOp[1] === 'lookup') return ok(database.lookup(leaseId, namespace));
      await database.revoke(leaseId, namespace);
      return { status: 204 };
    }
    // Database secrets engine.
    const creds = /^database\/creds\/([^/]+)$/.exec(apiPath);
    if (creds) {
      if (method !== 'GET') throw unsupported();
      return ok(await database.creds(creds[1]!, namespace, t.displayName, t.id));
    }
    // KV v2.
    const kvm = /^([^/]+)\/(data|metadata)\/(.*)$/.exec(apiPath) ?? /^([^/]+)\/(metadata)\/?()$/.exec(apiPath);
    const store = kvm ? kvStore(namespace, kvm[1]!) : undefined;
    if (kvm && store) {
      const secretPath = kvm[3]!;
      if (kvm[2] === 'data') {
        if (secretPath === '') throw badRequest('missing path');
        if (method === 'GET') {
          const r = store.get(secretPath, query.get('version'));
          return { status: r.status, body: { ...r.body, mount_type: 'kv' } };
        }
        if (method === 'POST' || method === 'PUT') {
          const b = await body();
          const options = (b['options'] ?? {}) as Record<string, unknown>;
          const cas = options['cas'];
          if (cas !== undefined && typeof cas !== 'number') throw badRequest('error parsing check-and-set parameter');
          return ok({ ...store.put(secretPath, b['data'], cas === undefined ? {} : { cas }), mount_type: 'kv' });
        }
        if (method === 'DELETE') {
          store.deleteLatest(secretPath);
          return { status: 204 };
        }
        throw unsupported();
      }
      if (method === 'LIST') return ok({ ...store.list(secretPath), mount_type: 'kv' });
      if (method === 'GET') {
        if (secretPath === '') throw notFound();
        return ok({ ...store.metadata(secretPath), mount_type: 'kv' });
      }
      throw unsupported();
    }
    throw noRoute(apiPath);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://vault.invalid');
    let method = (req.method ?? 'GET').toUpperCase();
    if (method === 'GET' && url.searchParams.get('list') === 'true') method = 'LIST';
    const nsHeader = header(req, 'x-vault-namespace');
    const namespace = normalizeNamespace(nsHeader);
    const tokenHeader = header(req, 'x-vault-token') ?? /^Bearer (.+)$/.exec(header(req, 'authorization') ?? '')?.[1];
    const apiPath = url.pathname.startsWith('/v1/') ? decodeURIComponent(url.pathname.slice(4)) : undefined;
    const query = [...url.searchParams.keys()].filter((k) => k !== 'list').length > 0 ? url.search : '';
    const record = (status: number): void => {
      requests.push({ method, path: apiPath ?? url.pathname, query, namespace: nsHeader, tokenSent: tokenHeader !== undefined, status });
    };
    const reply = (status: number, body?: unknown, headers: Record<string, string> = {}): void => {
      record(status);
      if (status === 204 || body === undefined) sendNoContent(res);
      else sendJson(res, status, body, headers);
    };
    try {
      if (apiPath === undefined) throw new VaultHttpError(404, []);
      // Faults first, as a quota or a failing node answers before any handler.
      if (stalled) {
        record(0);
        return;
      }
      if (rateLimited) throw new VaultHttpError(429, [`request path "${apiPath}": rate limit quota exceeded`], { 'Retry-After': '1' });
      const f = failures.find((x) => x.left > 0 && (x.opts.pathPrefix === undefined || apiPath.startsWith(x.opts.pathPrefix)));
      if (f) {
        f.left--;
        if (f.left === 0) failures.splice(failures.indexOf(f), 1);
        throw new VaultHttpError(f.status, f.opts.errors ?? DEFAULT_FAIL_TEXT[f.status] ?? [`HTTP ${f.status}`], f.status === 429 ? { 'Retry-After': '1' } : {});
      }
      // Unauthenticated system endpoints.
      if (apiPath === 'sys/health' && method === 'GET') {
        const status = sealed ? 503 : 200;
        reply(status, { initialized: true, sealed, standby: false, performance_standby: false, replication_performance_mode: 'disabled', replication_dr_mode: 'disabled', server_time_utc: Math.floor(now() / 1000), version: '1.18.0', cluster_name: 'vault-server-test', cluster_id: 'test' });
        return;
      }
      if (apiPath === 'sys/seal-status' && method === 'GET') {
        reply(200, { type: 'shamir', initialized: true, sealed, t: 1, n: 1, progress: 0, nonce: '', version: '1.18.0', build_date: '', migration: false, recovery_seal: false, storage_type: 'inmem' });
        return;
      }
      if (sealed) throw new VaultHttpError(503, ['Vault is sealed']);
      const body = async (): Promise<Record<string, unknown>> => parseJsonBody(await readBody(req));
      if (apiPath === 'auth/approle/login') {
        if (method !== 'POST' && method !== 'PUT') throw unsupported();
        reply(200, envelope(auth.appRoleLogin(await body(), namespace)));
        return;
      }
      const token = auth.authenticate(tokenHeader, namespace);
      auth.authorize(token, apiPath.replace(/\/$/, ''), capsFor(method));
      const r = await route(method, apiPath, url.searchParams, namespace, token, body);
      reply(r.status, r.status === 204 ? undefined : envelope(r.body as LogicalResponse), r.headers);
    } catch (e) {
      if (e instanceof VaultHttpError) {
        record(e.status);
        sendError(res, e);
        return;
      }
      record(500);
      sendError(res, new VaultHttpError(500, [`1 error occurred:\n\t* internal error: ${(e as Error).message}\n\n`]));
    }
  };

  // The HTTP server gets its connections from our own listener, through the
  // LIST shim (Node's parser does not know Vault's LIST method).
  const httpServer = http.createServer((req, res) => {
    void handle(req, res);
  });
  httpServer.keepAliveTimeout = 5000;
  const sockets = new Set<net.Socket>();
  const onSocket = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    httpServer.emit('connection', new ListMethodShim(s));
  };
  const listener: net.Server = useTls ? tls.createServer(tlsOptions!, onSocket) : net.createServer(onSocket);
  listener.on('tlsClientError', () => undefined);

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, '127.0.0.1', () => {
        listener.removeListener('error', reject);
        resolve((listener.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(opts.port ?? 0);
  let running = true;
  let closed = false;

  // Vault's expiration manager: expired leases are revoked by the server itself.
  let sweeping = false;
  const sweepTimer = setInterval(() => {
    if (!running || sealed || sweeping) return;
    sweeping = true;
    void database.sweep().finally(() => {
      sweeping = false;
    });
  }, opts.sweepIntervalMs ?? 250);
  sweepTimer.unref();

  const stop = async (): Promise<void> => {
    if (!running) return;
    running = false;
    const closedP = new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closedP;
  };

  return {
    url: `${useTls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    caFile,
    caPem,
    rootToken,
    requests,
    putKv: (mount, secretPath, data, o = {}) => {
      const s = adminKv(mount, o.namespace);
      const v = (s.put(secretPath, data).data as { version: number }).version;
      if (o.customMetadata || o.casRequired !== undefined) s.setMetadata(secretPath, { ...(o.customMetadata ? { customMetadata: o.customMetadata } : {}), ...(o.casRequired !== undefined ? { casRequired: o.casRequired } : {}) });
      return v;
    },
    deleteKvVersions: (mount, secretPath, versions, o = {}) => adminKv(mount, o.namespace).deleteVersions(secretPath, versions),
    destroyKvVersions: (mount, secretPath, versions, o = {}) => adminKv(mount, o.namespace).destroyVersions(secretPath, versions),
    putPolicy: (name, rules) => auth.putPolicy(name, rules),
    createToken: (o = {}) => {
      const t = auth.createToken(o);
      return { token: t.id, accessor: t.accessor };
    },
    revokeToken: (t) => auth.revokeToken(t),
    createAppRole: (name, o) => auth.createAppRole(name, o),
    destroySecretId: (roleId, secretId) => auth.destroySecretId(roleId, secretId),
    createDatabaseRole: (name, o) => database.createRole(name, o),
    leases: () => database.list(),
    sweepLeases: () => database.sweep(),
    seal: () => {
      sealed = true;
    },
    unseal: () => {
      sealed = false;
    },
    stop,
    start: async () => {
      if (closed) throw new Error('vault server is closed');
      if (running) return;
      await listen(port);
      running = true;
    },
    failNext: (status, count = 1, o = {}) => {
      if (!Number.isInteger(status) || status < 400 || status > 599) throw new Error(`failNext: status must be 4xx or 5xx, got ${status}`);
      failures.push({ status, left: count, opts: o });
    },
    rateLimit: (on) => {
      rateLimited = on;
    },
    stall: (on) => {
      stalled = on;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(sweepTimer);
      await stop();
      httpServer.close();
      await database.close();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
}
