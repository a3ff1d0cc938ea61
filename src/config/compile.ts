import * as path from 'node:path';
import { parseCosignatureVerifierKey } from '../evidence/cosignature';
import { byteSizeField } from './byte-size';
import { duration, isZeroDuration } from './duration';
import { ConfigError, Problems, Section, describe, isObj, join } from './problems';
import { policySection } from './policy-section';
import { agentTrustSection, trustSection } from './trust-section';
import {
  OPERATOR_ROLES,
  type ActionConfig,
  type AgentConfig,
  type ApprovalGroupConfig,
  type BackendConfig,
  type BackendResilience,
  type BrokerConfig,
  type HostPort,
  type HttpActionConfig,
  type HttpAuth,
  type Limits,
  type OperatorConfig,
  type OperatorRole,
  type PostgresActionConfig,
  type PostgresGrant,
  type ResourceTemplate,
  type SecretConfig,
  type RotationSettings,
  DEFAULT_ROTATION_LOCK_TTL_MS,
  type ServerConfig,
  type StateConfig,
  type VaultAuthConfig,
  type VaultDynamicActionConfig,
  type WitnessEndpointConfig,
} from './config-types';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_EXPECTED = 'a name of letters, digits, ".", "_" or "-" (at most 64)';
const ACTION_NAME = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/;
const URI_ID = /^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/;
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
const PRIVILEGES: ReadonlySet<string> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
/** Quoted when sent, and restricted so the quoted name is the one a reader types unquoted (no case folding, truncation or encoding). */
const SQL_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const SQL_IDENT_EXPECTED = 'a lower-case SQL identifier (1 to 63 of a-z, 0-9 and "_", not starting with a digit)';
const LOCK_TABLE = /^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/;
/** PostgreSQL reserves schema names starting with pg_ for the system (pg_catalog, pg_toast*, pg_temp*). */
const SYSTEM_SCHEMA = /^(pg_|information_schema$)/;
/** A role name is the prefix and 32 random hex digits: 63 bytes at most leaves 31 for the prefix. */
const ROLE_PREFIX = /^[a-z_][a-z0-9_]{0,30}$/;
const ROLE_PREFIX_EXPECTED = 'a lower-case prefix of 1 to 31 letters, digits or "_", starting with a letter or "_" (such as "sb_")';
const DEFAULT_ROLE_PREFIX = 'sb_';
const LOG_LEVELS: ReadonlySet<string> = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);
const DEFAULT_KEY_OVERLAP_MS = 24 * 3_600_000;

export const DEFAULT_LIMITS: Limits = Object.freeze({
  requestsPerSecond: 50,
  burst: 100,
  activeLeases: 1000,
  maxBodyBytes: 1_048_576,
  maxMessageDepth: 32,
  openStreams: 16,
  evidenceBytesPerMinute: 1_048_576,
  invokesInFlight: 16,
});

export const DEFAULT_RESILIENCE: BackendResilience = Object.freeze({
  cacheTtlMs: 30_000,
  timeoutMs: 5_000,
  breakerFailures: 5,
  breakerOpenMs: 10_000,
});

export const DEFAULT_SERVER: ServerConfig = Object.freeze({
  invokesInFlight: 256,
  bufferedResponseBytes: 256 * 1024 * 1024,
  maxConcurrentStreams: 128,
  maxConnections: 1024,
});

/**
 * A key the config format reserves for a feature that is not built yet. It is
 * parsed (so its own mistakes are reported too) but refused: a key that is
 * accepted must take effect. Each later issue lifts its own refusal.
 */
function notBuiltYet(problems: Problems, at: string, what: string): void {
  problems.add(at, `${what} is not built yet; remove it (a later release adds it)`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

function server(s: Section | undefined): ServerConfig {
  if (!s) return DEFAULT_SERVER;
  const out: ServerConfig = {
    invokesInFlight: s.int('invokes_in_flight', { min: 1, max: 100_000, fallback: DEFAULT_SERVER.invokesInFlight })!,
    bufferedResponseBytes: byteSizeField(s, 'buffered_response_bytes', { min: 64 * 1024, max: 64 * 1024 ** 3, fallback: DEFAULT_SERVER.bufferedResponseBytes }),
    maxConcurrentStreams: s.int('max_concurrent_streams', { min: 1, max: 100_000, fallback: DEFAULT_SERVER.maxConcurrentStreams })!,
    maxConnections: s.int('max_connections', { min: 1, max: 1_000_000, fallback: DEFAULT_SERVER.maxConnections })!,
  };
  s.done();
  return out;
}

function hostPort(s: Section, key: string, required: boolean): HostPort | undefined {
  const v = s.string(key, { required, expect: 'host:port, such as 127.0.0.1:7443' });
  if (v === undefined) return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535) {
    s.problems.add(s.at(key), `expected host:port, such as 127.0.0.1:7443, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function file(s: Section, key: string, baseDir: string, required = true): string | undefined {
  const v = s.string(key, { required, expect: 'a file path' });
  return v === undefined ? undefined : path.resolve(baseDir, v);
}

/** Each named mapping (backends, actions, agents…): validates its key and hands each entry over. */
function eachNamed(root: Section, key: string, pattern: RegExp, expected: string, fn: (name: string, s: Section) => void): void {
  const v = root.value(key);
  if (v === undefined || v === null) return;
  if (!isObj(v)) {
    root.problems.add(root.at(key), `expected a mapping of names, got ${describe(v)}`);
    return;
  }
  for (const [name, body] of Object.entries(v)) {
    const p = join(root.at(key), name);
    if (!pattern.test(name)) root.problems.add(p, `the name must be ${expected}`);
    const s = Section.of(p, body, root.problems);
    if (!s) continue;
    fn(name, s);
    s.done();
  }
}

function limits(s: Section | undefined, base: Limits): Limits {
  if (!s) return base;
  const out: Limits = {
    requestsPerSecond: s.int('requests_per_second', { min: 1, max: 100_000, fallback: base.requestsPerSecond })!,
    burst: s.int('burst', { min: 1, max: 1_000_000, fallback: base.burst })!,
    activeLeases: s.int('active_leases', { min: 1, max: 10_000_000, fallback: base.activeLeases })!,
    maxBodyBytes: s.int('max_body_bytes', { min: 1024, max: 64 * 1024 * 1024, fallback: base.maxBodyBytes })!,
    maxMessageDepth: s.int('max_message_depth', { min: 2, max: 100, fallback: base.maxMessageDepth })!,
    openStreams: s.int('open_streams', { min: 1, max: 10_000, fallback: base.openStreams })!,
    evidenceBytesPerMinute: s.int('evidence_bytes_per_minute', { min: 4096, fallback: base.evidenceBytesPerMinute })!,
    invokesInFlight: s.int('invokes_in_flight', { min: 1, max: 100_000, fallback: base.invokesInFlight })!,
  };
  s.done();
  return out;
}

/** An http(s) URL with a host and nothing else but an optional port (no path, credentials, query or fragment). */
function endpointUrl(s: Section, key: string, required = false): string | undefined {
  const v = s.string(key, { required, expect: 'an http(s) URL such as https://host:8200' });
  if (v === undefined) return undefined;
  let ok: boolean;
  try {
    const u = new URL(v);
    ok = (u.protocol === 'https:' || u.protocol === 'http:') && !!u.hostname && !u.username && !u.password && !u.search && !u.hash && (u.pathname === '/' || u.pathname === '');
  } catch {
    ok = false;
  }
  if (!ok) {
    s.problems.add(s.at(key), `expected an http(s) URL with a host and optional port only (no path, credentials, query or fragment), got ${JSON.stringify(v)}`);
    return undefined;
  }
  // Tokens, secret ids and secret values travel on this connection: verified TLS, except to a
  // process on this machine (a Vault Agent or proxy listening on loopback, a local moto).
  const u = new URL(v);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    s.problems.add(s.at(key), `expected https:// (tokens and secret values travel on it); plain http:// is only for a loopback address such as 127.0.0.1, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v.replace(/\/+$/, '');
}

/** 127.0.0.0/8, ::1 or localhost: a listener on this machine. */
function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '[::1]' || host === 'localhost';
}

function vaultAddress(s: Section): string | undefined {
  return endpointUrl(s, 'address', true);
}

/** cache_ttl, timeout and breaker of a remote backend. */
function resilience(s: Section): BackendResilience {
  // "0s" disables the cache (durations elsewhere are positive).
  const cacheTtlMs = isZeroDuration(s.raw['cache_ttl']) ? (s.value('cache_ttl'), 0) : duration(s, 'cache_ttl', DEFAULT_RESILIENCE.cacheTtlMs)!;
  const timeoutMs = duration(s, 'timeout', DEFAULT_RESILIENCE.timeoutMs)!;
  if (timeoutMs < 100 || timeoutMs > 120_000) s.problems.add(s.at('timeout'), `expected a duration from 100ms to 2m, got ${describe(s.raw['timeout'])}`);
  if (cacheTtlMs > 24 * 3_600_000) s.problems.add(s.at('cache_ttl'), 'expected at most 24h (0s disables the cache)');
  const bs = s.section('breaker', false);
  const breakerFailures = bs?.int('failures', { min: 1, max: 1000, fallback: DEFAULT_RESILIENCE.breakerFailures }) ?? DEFAULT_RESILIENCE.breakerFailures;
  const breakerOpenMs = bs ? duration(bs, 'open_for', DEFAULT_RESILIENCE.breakerOpenMs)! : DEFAULT_RESILIENCE.breakerOpenMs;
  if (bs && (breakerOpenMs < 100 || breakerOpenMs > 3_600_000)) bs.problems.add(bs.at('open_for'), `expected a duration from 100ms to 1h, got ${describe(bs.raw['open_for'])}`);
  bs?.done();
  return { cacheTtlMs, timeoutMs, breakerFailures, breakerOpenMs };
}

function backend(name: string, s: Section, baseDir: string): BackendConfig | undefined {
  const kind = s.string('kind', { expect: 'one of local, vault, aws-secrets-manager, postgres' });
  switch (kind) {
    case 'local': {
      const p = file(s, 'path', baseDir);
      const keyFile = file(s, 'key_file', baseDir);
      return p && keyFile ? { kind, name, path: p, keyFile } : undefined;
    }
    case 'vault': {
      const address = vaultAddress(s);
      const mount = s.string('mount', { required: false, pattern: /^[A-Za-z0-9_-]+$/, expect: 'a mount name of letters, digits, "_" or "-"' }) ?? 'secret';
      const databaseMount = s.string('database_mount', { required: false, pattern: /^[A-Za-z0-9_-]+$/, expect: 'a mount name of letters, digits, "_" or "-"' }) ?? 'database';
      const caFile = file(s, 'ca_file', baseDir, false);
      const namespace = s.string('namespace', { required: false, pattern: /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*\/?$/, expect: 'a Vault namespace such as team-a or admin/team-a' });
      const tokenFile = file(s, 'token_file', baseDir, false);
      const as = s.section('approle', false);
      let auth: VaultAuthConfig | undefined;
      if ((tokenFile ? 1 : 0) + (as ? 1 : 0) !== 1) s.problems.add(s.path, 'expected exactly one of token_file or approle: { role_id, secret_id_file }');
      else if (tokenFile) auth = { kind: 'token_file', tokenFile };
      if (as) {
        const roleId = as.string('role_id', { pattern: /^[\x21-\x7e]{1,256}$/, expect: 'the AppRole role_id (printable, no spaces)' });
        const secretIdFile = file(as, 'secret_id_file', baseDir);
        const amount = as.string('mount', { required: false, pattern: /^[A-Za-z0-9_-]+$/, expect: 'an auth mount name' }) ?? 'approle';
        as.done();
        if (roleId && secretIdFile && !tokenFile) auth = { kind: 'approle', roleId, secretIdFile, mount: amount };
      }
      const r = resilience(s);
      return address && auth ? { kind, name, address, mount, databaseMount, auth, ...(caFile ? { caFile } : {}), ...(namespace ? { namespace } : {}), ...r } : undefined;
    }
    case 'aws-secrets-manager': {
      const region = s.string('region', { pattern: /^[a-z]{2}(-[a-z]+)+-[0-9]+$/, expect: 'an AWS region such as eu-west-1' });
      const endpoint = endpointUrl(s, 'endpoint');
      const caFile = file(s, 'ca_file', baseDir, false);
      const r = resilience(s);
      return region ? { kind, name, region, ...(endpoint ? { endpoint } : {}), ...(caFile ? { caFile } : {}), ...r } : undefined;
    }
    case 'postgres': {
      const us = s.section('url_secret');
      const b = us?.string('backend', { expect: 'the name of a local, vault or aws-secrets-manager backend' });
      const n = us?.string('name', { expect: 'the name (or aws id) of the secret holding the admin URL' });
      us?.done();
      const rolePrefix = s.string('role_prefix', { required: false, pattern: ROLE_PREFIX, expect: ROLE_PREFIX_EXPECTED }) ?? DEFAULT_ROLE_PREFIX;
      if (rolePrefix.startsWith('pg_')) s.problems.add(s.at('role_prefix'), 'may not start with "pg_" (PostgreSQL reserves those role names)');
      let advertise: HostPort | undefined;
      const as = s.section('advertise', false);
      if (as) {
        const host = as.string('host', { pattern: /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253})$/, expect: 'the host agents connect to' });
        const port = as.int('port', { min: 1, max: 65535, fallback: 5432 });
        as.done();
        if (host && port !== undefined) advertise = { host: host.replace(/^\[|\]$/g, ''), port };
      }
      // Nothing is cached from a postgres backend: a cache_ttl would be accepted without effect.
      if (s.raw['cache_ttl'] !== undefined) s.problems.add(s.at('cache_ttl'), 'a postgres backend caches nothing; remove cache_ttl (timeout and breaker apply)');
      const maxLeaseConnections = s.int('max_lease_connections', { required: false, min: 1, max: 1_000_000 });
      let lockTable: { schema: string; table: string } | undefined;
      const lt = s.string('lock_table', { required: false, pattern: LOCK_TABLE, expect: 'schema.table, two lower-case SQL identifiers (a table only the admin login may lock)' });
      if (lt) {
        const [schema, table] = lt.split('.') as [string, string];
        if (SYSTEM_SCHEMA.test(schema)) s.problems.add(s.at('lock_table'), `${JSON.stringify(schema)} is a PostgreSQL system schema; use a schema of its own that no lease role is granted on`);
        else lockTable = { schema, table };
      }
      const r = { ...resilience(s), cacheTtlMs: 0 };
      return b && n
        ? {
            kind,
            name,
            urlSecret: { backend: b, name: n },
            rolePrefix,
            ...(advertise ? { advertise } : {}),
            ...(maxLeaseConnections !== undefined ? { maxLeaseConnections } : {}),
            ...(lockTable ? { lockTable } : {}),
            ...r,
          }
        : undefined;
    }
    case undefined:
      return undefined;
    default:
      s.problems.add(s.at('kind'), `expected one of local, vault, aws-secrets-manager, postgres, got ${JSON.stringify(kind)}`);
      return undefined;
  }
}

/** What each backend kind takes: `name` (local, vault) or `id` (aws); `field` not on local; `version` only on vault. */
function checkSecretShape(sec: SecretConfig, b: BackendConfig | undefined, s: Section): void {
  if (!b) return;
  const has = (k: string): boolean => s.raw[k] !== undefined && s.raw[k] !== null;
  if (has('name') && has('id')) s.problems.add(s.path, 'expected one of name or id, not both');
  if (b.kind === 'aws-secrets-manager' && has('name')) s.problems.add(s.at('name'), 'an aws-secrets-manager secret is named by id (its name or ARN), not name');
  if (b.kind !== 'aws-secrets-manager' && has('id')) s.problems.add(s.at('id'), `a ${b.kind} secret is named by name, not id`);
  if (b.kind === 'local' && sec.field !== undefined) s.problems.add(s.at('field'), 'a local secret is one opaque value; field is for vault and aws-secrets-manager secrets');
  if (b.kind !== 'vault' && sec.version !== undefined) s.problems.add(s.at('version'), 'only a vault secret can pin a version');
  if (b.kind === 'vault' && !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(sec.ref))
    s.problems.add(s.at('name'), `expected a KV path of segments of letters, digits, "_", "." or "-" separated by "/", got ${JSON.stringify(sec.ref)}`);
  if (b.kind === 'vault' && sec.ref.split('/').some((seg) => seg === '.' || seg === '..')) s.problems.add(s.at('name'), 'a KV path may not contain "." or ".." segments');
  if (b.kind === 'aws-secrets-manager' && !/^[A-Za-z0-9/_+=.@:-]{1,2048}$/.test(sec.ref))
    s.problems.add(s.at('id'), `expected a secret name or ARN (letters, digits and /_+=.@:-), got ${JSON.stringify(sec.ref)}`);
  if (b.kind === 'postgres') s.problems.add(s.at('backend'), 'a postgres backend mints credentials; it holds no static secrets');
  if (sec.rotation && b.kind === 'aws-secrets-manager' && sec.field !== undefined) s.problems.add(s.at('rotation'), 'a rotated aws-secrets-manager secret is written whole (the whole SecretString); remove field or rotation');
  if (sec.rotation?.target && b.kind !== 'aws-secrets-manager') s.problems.add(s.at('rotation.target'), `only an aws-secrets-manager secret takes a target (a ${b.kind} secret that is a postgres backend's url_secret is rotated on that database without one)`);
  if (sec.rotation && b.kind === 'vault' && sec.field !== undefined) s.problems.add(s.at('rotation'), 'a rotated vault secret is written whole (one key "value"); remove field or rotation');
  if (sec.rotation && b.kind === 'vault' && sec.version !== undefined) s.problems.add(s.at('rotation'), 'a rotated vault secret cannot pin a version (it would never serve the new one)');
}

function secret(name: string, s: Section): SecretConfig | undefined {
  const b = s.string('backend');
  const ref = s.string('name', { required: false }) ?? s.string('id', { required: false }) ?? name;
  const field = s.string('field', { required: false, pattern: /^[\x21-\x7e]{1,256}$/, expect: 'a field name (printable, no spaces, at most 256)' });
  const version = s.int('version', { required: false, min: 1, max: 2 ** 31 - 1 });
  let rotation: SecretConfig['rotation'];
  const rs = s.section('rotation', false);
  if (rs) {
    const everyMs = duration(rs, 'every');
    const gs = rs.section('generator');
    const gkind = gs?.string('kind', { pattern: /^random$/, expect: '"random" (no shell commands)' });
    const length = gs?.int('length', { min: 16, max: 4096, fallback: 40 });
    const alphabet = gs?.string('alphabet', { required: false, pattern: /^[\x21-\x7e]{2,256}$/, expect: 'at least 2 and at most 256 printable ASCII characters, no spaces' });
    if (alphabet !== undefined && new Set(alphabet).size !== alphabet.length) gs!.problems.add(gs!.at('alphabet'), 'expected distinct characters (a repeated one would bias the generator)');
    gs?.done();
    const ts = rs.section('target', false);
    const target = ts?.string('postgres', { pattern: NAME, expect: 'the name of a postgres backend' });
    ts?.done();
    rs.done();
    if (everyMs !== undefined && gkind && length !== undefined) rotation = { everyMs, generator: { kind: 'random', length, ...(alphabet !== undefined ? { alphabet } : {}) }, ...(target !== undefined ? { target: { postgres: target } } : {}) };
  }
  return b ? { name, backend: b, ref, ...(field ? { field } : {}), ...(version !== undefined ? { version } : {}), ...(rotation ? { rotation } : {}) } : undefined;
}

function httpAction(s: Section, baseDir: string): HttpActionConfig | undefined {
  const baseUrl = s.string('base_url', { expect: 'an https:// URL' });
  if (baseUrl !== undefined) {
    let ok: boolean;
    try {
      const u = new URL(baseUrl);
      ok = u.protocol === 'https:' && !u.username && !u.password && !u.search && !u.hash;
    } catch {
      ok = false;
    }
    if (!ok) s.problems.add(s.at('base_url'), `expected an https:// URL without credentials, query or fragment, got ${JSON.stringify(baseUrl)}`);
  }
  const methods = s.stringList('methods', { required: true }).map((m) => m.toUpperCase());
  methods.forEach((m, i) => {
    if (!METHODS.has(m)) s.problems.add(join(s.at('methods'), i), `expected one of ${[...METHODS].join(', ')}, got ${JSON.stringify(m)}`);
  });
  const paths = s.stringList('paths', {
    required: true,
    pattern: /^(\/([A-Za-z0-9._~-]+|\{[a-z_][a-z0-9_]*\}))+\/?$|^\/$/,
    expect: 'a path template such as "/tickets/{id}"',
  });
  let auth: HttpAuth | undefined;
  const as = s.section('auth');
  if (as) {
    const bearer = as.string('bearer', { required: false });
    const basic = as.section('basic', false);
    const header = as.section('header', false);
    const count = [bearer, basic, header].filter((x) => x !== undefined).length;
    if (count !== 1) as.problems.add(as.path, 'expected exactly one of bearer, basic or header');
    if (bearer) auth = { kind: 'bearer', secret: bearer };
    if (basic) {
      const username = basic.string('username');
      const sec = basic.string('secret');
      basic.done();
      if (username && sec) auth = { kind: 'basic', username, secret: sec };
    }
    if (header) {
      const h = header.string('name', { pattern: /^[A-Za-z0-9-]+$/, expect: 'an HTTP header name' });
      const sec = header.string('secret');
      const prefix = header.string('prefix', { required: false });
      header.done();
      if (h && sec) auth = { kind: 'header', header: h.toLowerCase(), secret: sec, ...(prefix ? { prefix } : {}) };
    }
    as.done();
  }
  const allowNetworks = s.stringList('allow_networks', {
    pattern: /^[0-9a-fA-F:.]+\/[0-9]{1,3}$/,
    expect: 'a CIDR such as "127.0.0.0/8"',
  });
  const allowHeaders = s.stringList('allow_headers', { pattern: /^[A-Za-z0-9-]+$/, expect: 'an HTTP header name' }).map((h) =>
    h.toLowerCase(),
  );
  const caFiles = s.stringList('ca_files').map((f) => path.resolve(baseDir, f));
  const context: Record<string, string> = {};
  const cs = s.section('context', false);
  if (cs) {
    for (const key of Object.keys(cs.raw)) {
      const src = cs.string(key, { pattern: /^(body(\.[A-Za-z0-9_-]+)+|query\.[A-Za-z0-9_-]+|path\.[a-z_][a-z0-9_]*)$/, expect: 'body.<field>, query.<name> or path.<param>' });
      if (!/^[a-z_][a-z0-9_]*$/.test(key)) cs.problems.add(cs.at(key), 'a context field name must match [a-z_][a-z0-9_]*');
      else if (['trust', 'tier', 'trust_fresh', 'params', 'trust_age_seconds', 'budget'].includes(key)) cs.problems.add(cs.at(key), 'this name is reserved by the broker');
      if (src) context[key] = src;
    }
    cs.done();
  }
  const maxResponseBytes = s.int('max_response_bytes', { min: 1024, max: 64 * 1024 * 1024, fallback: 4 * 1024 * 1024 })!;
  const timeoutMs = duration(s, 'timeout', 30_000)!;
  if (!baseUrl || !auth) return undefined;
  return { baseUrl, methods, paths, auth, allowNetworks, allowHeaders, caFiles, context, maxResponseBytes, timeoutMs };
}

/** evidence.witnesses: [{ url, key, ca? }] */
function witnessList(es: Section, baseDir: string): WitnessEndpointConfig[] {
  const raw = es.value('witnesses');
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    es.problems.add(es.at('witnesses'), `expected a list of witnesses ({ url, key, ca? }), got ${describe(raw)}`);
    return [];
  }
  const out: WitnessEndpointConfig[] = [];
  const seen = new Set<string>();
  raw.forEach((w, i) => {
    const ws = Section.of(join(es.at('witnesses'), i), w, es.problems);
    if (!ws) return;
    const url = ws.string('url', { expect: 'the witness\'s http(s) submission URL' });
    if (url !== undefined) {
      let ok: boolean;
      try {
        const u = new URL(url);
        ok = (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search && !u.hash;
      } catch {
        ok = false;
      }
      if (!ok) ws.problems.add(ws.at('url'), `expected an http(s) URL without credentials, query or fragment, got ${JSON.stringify(url)}`);
    }
    const key = ws.string('key', { expect: 'the witness\'s cosigner verifier key (<name>+<hex id>+<base64>)' });
    let keyOk = false;
    if (key !== undefined) {
      try {
        parseCosignatureVerifierKey(key);
        keyOk = true;
      } catch (err) {
        ws.problems.add(ws.at('key'), `expected a witness cosigner verifier key (type 0x04): ${(err as Error).message}`);
      }
    }
    const ca = file(ws, 'ca', baseDir, false);
    ws.done();
    if (url && key && keyOk) {
      if (seen.has(`${url} ${key}`)) ws.problems.add(ws.path, 'lists the same witness (url and key) again');
      seen.add(`${url} ${key}`);
      out.push({ url, key, ...(ca ? { ca } : {}) });
    }
  });
  return out;
}

function postgresAction(s: Section): PostgresActionConfig | undefined {
  const b = s.string('backend', { expect: 'a backend of kind postgres' });
  const ttlMs = duration(s, 'ttl', 300_000)!;
  const connectionLimit = s.int('connection_limit', { min: 1, max: 100, fallback: 2 })!;
  const statementTimeoutMs = duration(s, 'statement_timeout', 30_000)!;
  // PostgreSQL takes statement_timeout in ms up to INT_MAX; a day is more than any lease's query should need.
  if (statementTimeoutMs < 1 || statementTimeoutMs > 86_400_000) s.problems.add(s.at('statement_timeout'), `expected a duration from 1ms to 24h, got ${describe(s.raw['statement_timeout'])}`);
  const grants: PostgresGrant[] = [];
  const raw = s.value('grants');
  if (!Array.isArray(raw) || raw.length === 0) s.problems.add(s.at('grants'), 'expected a non-empty list of grants');
  else
    raw.forEach((g, i) => {
      const gs = Section.of(join(s.at('grants'), i), g, s.problems);
      if (!gs) return;
      const privilege = gs.string('privilege', { expect: 'one of SELECT, INSERT, UPDATE, DELETE' })?.toUpperCase();
      const schema = gs.string('schema', { pattern: SQL_IDENT, expect: SQL_IDENT_EXPECTED });
      const table = gs.string('table', { required: false, pattern: SQL_IDENT, expect: SQL_IDENT_EXPECTED });
      gs.done();
      // A grant there reaches the server's own catalogs (pg_authid's password verifiers, under a superuser admin).
      if (schema && SYSTEM_SCHEMA.test(schema)) {
        gs.problems.add(gs.at('schema'), `${JSON.stringify(schema)} is a PostgreSQL system schema (information_schema, or a name starting with "pg_", such as pg_catalog, pg_toast or pg_temp); grant on an application schema`);
        return;
      }
      if (privilege && !PRIVILEGES.has(privilege)) gs.problems.add(gs.at('privilege'), `expected one of SELECT, INSERT, UPDATE, DELETE, got ${JSON.stringify(privilege)}`);
      else if (privilege && schema) grants.push({ privilege: privilege as PostgresGrant['privilege'], schema, ...(table ? { table } : {}) });
    });
  return b ? { backend: b, grants, ttlMs, connectionLimit, statementTimeoutMs } : undefined;
}

const DEFAULT_USES = 1;
const DEFAULT_MAX_USES = 100;
/** Literal text of a resource: what RequestLease has always accepted, minus the braces of placeholders. */
const RESOURCE_TEXT = /^[A-Za-z0-9._~:/@+=-]*$/;

/**
 * `resource:` as a template over the action's declared context fields
 * ("ticket/{ticket}") or a fixed string; the action's name by default.
 */
function resourceTemplate(s: Section, name: string, contextFields: readonly string[]): ResourceTemplate {
  const source = s.string('resource', { required: false, expect: 'a resource such as "stripe", or a template such as "ticket/{ticket}"' }) ?? name;
  const parts: Array<{ text: string } | { field: string }> = [];
  const re = /\{([^{}]*)\}/g;
  let at = 0;
  let bad = false;
  const text = (t: string): void => {
    if (!RESOURCE_TEXT.test(t)) bad = true;
    else if (t) parts.push({ text: t });
  };
  for (let m = re.exec(source); m; m = re.exec(source)) {
    text(source.slice(at, m.index));
    at = m.index + m[0].length;
    const field = m[1]!;
    if (!contextFields.includes(field)) {
      s.problems.add(
        s.at('resource'),
        `names {${field}}, which is not a declared context field of this action (declared: ${contextFields.join(', ') || 'none'}; declare it under http.context)`,
      );
    } else parts.push({ field });
  }
  text(source.slice(at));
  if (bad || source.length === 0 || source.length > 256) {
    s.problems.add(s.at('resource'), `expected 1 to 256 characters of letters, digits and ._~:/@+=- with {field} placeholders, got ${JSON.stringify(source)}`);
  }
  return { source, parts };
}

function action(name: string, s: Section, baseDir: string): ActionConfig | undefined {
  const hs = s.section('http', false);
  const ps = s.section('postgres', false);
  const vs = s.section('vault_dynamic', false);
  if ((hs ? 1 : 0) + (ps ? 1 : 0) + (vs ? 1 : 0) !== 1) s.problems.add(s.path, 'expected exactly one of http, postgres or vault_dynamic');
  const http = hs ? httpAction(hs, baseDir) : undefined;
  hs?.done();
  const postgres = ps ? postgresAction(ps) : undefined;
  ps?.done();
  let vaultDynamic: VaultDynamicActionConfig | undefined;
  if (vs) {
    const b = vs.string('backend', { expect: 'a backend of kind vault' });
    // Only database/creds/<role> is built: the role is one path segment, never a path.
    const role = vs.string('role', { pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, expect: 'a Vault database role name (letters, digits, "_", "." or "-"; one path segment)' });
    const cs = vs.section('connection');
    const host = cs?.string('host', { pattern: /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]{1,253})$/, expect: 'the host agents connect to' });
    const port = cs?.int('port', { min: 1, max: 65535, fallback: 5432 });
    const database = cs?.string('database', { pattern: /^[\x21-\x7e]{1,63}$/, expect: 'a database name' });
    cs?.done();
    vs.done();
    if (b && role && host && port !== undefined && database) vaultDynamic = { backend: b, role, connection: { host: host.replace(/^\[|\]$/g, ''), port, database } };
  }
  const defaultTtlMs = duration(s, 'default_ttl', postgres?.ttlMs ?? 300_000)!;
  const maxTtlMs = duration(s, 'max_ttl', Math.max(defaultTtlMs, 3_600_000))!;
  if (maxTtlMs < defaultTtlMs) s.problems.add(s.at('max_ttl'), `must be at least default_ttl (${defaultTtlMs / 1000}s)`);
  const maxUses = s.int('max_uses', { min: 1, max: 1_000_000, fallback: DEFAULT_MAX_USES })!;
  const defaultUses = s.int('default_uses', { min: 1, max: 1_000_000, fallback: DEFAULT_USES })!;
  if (defaultUses > maxUses) s.problems.add(s.at('default_uses'), `is ${defaultUses}, more than max_uses (${maxUses})`);
  const contextFields = http ? Object.keys(http.context) : [];
  const resource = resourceTemplate(s, name, contextFields);
  let budget: ActionConfig['budget'];
  const bs = s.section('budget', false);
  if (bs) {
    const field = bs.string('field', { expect: 'a declared context field of this action, integer valued (e.g. amount)' });
    const perMs = duration(bs, 'per');
    const limit = bs.int('limit', { required: false, min: 0 });
    bs.done();
    let fieldOk = false;
    if (field !== undefined) {
      if (!contextFields.includes(field)) {
        bs.problems.add(bs.at('field'), `must be a declared context field of this action (declared: ${contextFields.join(', ') || 'none'}; declare it under http.context)`);
      } else fieldOk = true;
    }
    if (perMs !== undefined && perMs <= 0) bs.problems.add(bs.at('per'), 'must be a positive duration');
    if (field && fieldOk && perMs !== undefined && perMs > 0) budget = { field, perMs, ...(limit !== undefined ? { limit } : {}) };
  }
  if (!http && !postgres && !vaultDynamic) return undefined;
  return {
    name,
    ...(http ? { http } : {}),
    ...(postgres ? { postgres } : {}),
    ...(vaultDynamic ? { vaultDynamic } : {}),
    defaultTtlMs,
    maxTtlMs,
    defaultUses,
    maxUses,
    resource,
    ...(budget ? { budget } : {}),
    contextFields,
  };
}

/** Validates raw YAML data and compiles it into a frozen config; throws ConfigError listing every problem. */
export function compileConfig(raw: unknown, configFile: string): BrokerConfig {
  const problems = new Problems();
  const baseDir = path.dirname(path.resolve(configFile));
  const root = Section.of('', raw, problems);
  if (!root) throw new ConfigError(configFile, problems.list);

  const devMode = root.bool('dev_mode', false);
  const listen = hostPort(root, 'listen', true);
  const healthListen = hostPort(root, 'health_listen', false);
  const metricsListen = hostPort(root, 'metrics_listen', false);
  const ms = root.section('metrics', false);
  const metrics = { agentLabelLimit: ms?.int('agent_label_limit', { min: 0, max: 100_000, fallback: 100 }) ?? 100 };
  ms?.done();

  const ts = root.section('tls');
  const tls = ts ? { ca: file(ts, 'ca', baseDir), cert: file(ts, 'cert', baseDir), key: file(ts, 'key', baseDir) } : undefined;
  ts?.done();

  let state: StateConfig | undefined;
  const ss = root.section('state');
  if (ss) {
    const sqlite = file(ss, 'sqlite', baseDir, false);
    const pg = ss.section('postgres', false);
    const urlEnv = pg?.string('url_env', { pattern: /^[A-Z_][A-Z0-9_]*$/, expect: 'an environment variable name' });
    pg?.done();
    if (pg) notBuiltYet(problems, pg.path, 'the postgres state store');
    if ((sqlite ? 1 : 0) + (pg ? 1 : 0) !== 1) problems.add(ss.path, 'expected exactly one of sqlite or postgres');
    else state = sqlite ? { kind: 'sqlite', path: sqlite } : urlEnv ? { kind: 'postgres', urlEnv } : undefined;
    ss.done();
  }

  const es = root.section('evidence');
  const origin = es?.string('origin', { pattern: /^[\x21-\x7e]+$/, expect: 'a log origin such as example.org/secret-broker (printable, no spaces)' });
  const signingKey = es ? file(es, 'signing_key', baseDir) : undefined;
  const keyOverlapMs = es ? duration(es, 'key_overlap', DEFAULT_KEY_OVERLAP_MS)! : DEFAULT_KEY_OVERLAP_MS;
  const witnesses = es ? witnessList(es, baseDir) : [];
  es?.done();

  const baseLimits = limits(root.section('limits', false), DEFAULT_LIMITS);
  const serverLimits = server(root.section('server', false));

  const backends: Record<string, BackendConfig> = {};
  eachNamed(root, 'backends', NAME, NAME_EXPECTED, (name, s) => {
    const b = backend(name, s, baseDir);
    if (b) backends[name] = b;
  });

  const secrets: Record<string, SecretConfig> = {};
  eachNamed(root, 'secrets', NAME, NAME_EXPECTED, (name, s) => {
    const sec = secret(name, s);
    if (!sec) return;
    secrets[name] = sec;
    const declared = isObj(root.raw['backends']) ? root.raw['backends'] : {};
    if (!(sec.backend in declared)) problems.add(s.at('backend'), `names an unknown backend ${JSON.stringify(sec.backend)}`);
    checkSecretShape(sec, backends[sec.backend], s);
  });
  for (const b of Object.values(backends)) {
    if (b.kind !== 'postgres') continue;
    const from = backends[b.urlSecret.backend];
    const declared = isObj(root.raw['backends']) && b.urlSecret.backend in root.raw['backends'];
    if (!from && !declared) problems.add(`backends.${b.name}.url_secret.backend`, `names an unknown backend ${JSON.stringify(b.urlSecret.backend)}`);
    // The admin URL is a static secret: a postgres backend (this one or another) holds none.
    else if (from?.kind === 'postgres') problems.add(`backends.${b.name}.url_secret.backend`, `must name a static backend (local, vault or aws-secrets-manager), got the postgres backend ${JSON.stringify(b.urlSecret.backend)}`);
  }
  // An AWS secret rotates its postgres admin URL only through rotation.target (setSecret), and the target must be that secret's database.
  for (const sec of Object.values(secrets)) {
    if (!sec.rotation || backends[sec.backend]?.kind !== 'aws-secrets-manager') continue;
    const at = `secrets.${sec.name}.rotation`;
    const admins = Object.values(backends).filter((b) => b.kind === 'postgres' && b.urlSecret.backend === sec.backend && b.urlSecret.name === sec.ref);
    const t = sec.rotation.target?.postgres;
    if (t === undefined) {
      if (admins.length) problems.add(at, `this secret is the admin URL (url_secret) of postgres backend ${JSON.stringify(admins[0]!.name)}: add target: { postgres: ${admins[0]!.name} } so its setSecret step changes the password on that database`);
    } else if (backends[t]?.kind !== 'postgres') problems.add(`${at}.target.postgres`, `expected a postgres backend, got ${JSON.stringify(t)}`);
    else if (!admins.some((b) => b.name === t)) problems.add(`${at}.target.postgres`, `backend ${JSON.stringify(t)} takes its admin URL from another secret; the target must be the postgres backend whose url_secret is this secret`);
  }

  /** The kind a backend is declared with, even one that did not compile: its own problems are reported, naming it is not one more. */
  const declaredKind = (name: string): unknown => {
    const declared = isObj(root.raw['backends']) && Object.hasOwn(root.raw['backends'], name) ? root.raw['backends'][name] : undefined;
    return isObj(declared) ? declared['kind'] : undefined;
  };
  const actions: Record<string, ActionConfig> = {};
  eachNamed(root, 'actions', ACTION_NAME, 'dot-separated lower-case words such as billing.refund', (name, s) => {
    const a = action(name, s, baseDir);
    if (!a) return;
    actions[name] = a;
    if (a.http && !(a.http.auth.secret in secrets)) problems.add(`actions.${name}.http.auth`, `names an unknown secret ${JSON.stringify(a.http.auth.secret)}`);
    // A response larger than the daemon-wide buffer could never be delivered.
    if (a.http && a.http.maxResponseBytes > serverLimits.bufferedResponseBytes)
      problems.add(`actions.${name}.http.max_response_bytes`, `is ${a.http.maxResponseBytes} bytes, more than server.buffered_response_bytes (${serverLimits.bufferedResponseBytes})`);
    if (a.vaultDynamic) {
      const b = backends[a.vaultDynamic.backend];
      if (!b ? declaredKind(a.vaultDynamic.backend) !== 'vault' : b.kind !== 'vault') problems.add(`actions.${name}.vault_dynamic.backend`, `must name a backend of kind vault, got ${JSON.stringify(a.vaultDynamic.backend)}`);
    }
    if (a.postgres) {
      const b = backends[a.postgres.backend];
      if (!b ? declaredKind(a.postgres.backend) !== 'postgres' : b.kind !== 'postgres') problems.add(`actions.${name}.postgres.backend`, `must name a backend of kind postgres, got ${JSON.stringify(a.postgres.backend)}`);
      // A lease role with a privilege in the lock table's schema could take that lock and hold up every role change.
      const lock = b?.kind === 'postgres' ? b.lockTable : undefined;
      a.postgres.grants.forEach((g, i) => {
        if (lock && g.schema === lock.schema) {
          problems.add(`actions.${name}.postgres.grants[${i}].schema`, `is the schema of backend ${JSON.stringify(b!.name)}'s lock_table (${lock.schema}.${lock.table}); no lease role may be granted on it`);
        }
      });
    }
  });

  const ids = new Map<string, string>();
  const checkId = (where: string, id: string): void => {
    const prior = ids.get(id);
    if (prior) problems.add(where, `the id ${JSON.stringify(id)} is already used by ${prior}`);
    else ids.set(id, where);
  };

  const trust = trustSection(root.section('trust', false));
  const agents: Record<string, AgentConfig> = {};
  eachNamed(root, 'agents', NAME, NAME_EXPECTED, (name, s) => {
    const id = s.string('id', { pattern: URI_ID, expect: 'a URI such as spiffe://example.org/agent/NAME' });
    const groups = s.stringList('groups', { pattern: NAME, expect: NAME_EXPECTED });
    const owner = s.string('owner', { required: false, pattern: NAME, expect: 'the name of a configured operator' });
    const l = limits(s.section('limits', false), baseLimits);
    const agentTrust = agentTrustSection(s.section('trust', false), trust.thresholds);
    if (id) {
      checkId(s.at('id'), id);
      agents[name] = { name, id, groups, ...(owner ? { owner } : {}), limits: l, ...(agentTrust ? { trust: agentTrust } : {}) };
    }
  });

  const operators: Record<string, OperatorConfig> = {};
  eachNamed(root, 'operators', NAME, NAME_EXPECTED, (name, s) => {
    const id = s.string('id', { pattern: URI_ID, expect: 'a URI such as spiffe://example.org/human/NAME' });
    const roles = s.stringList('roles', { required: true });
    roles.forEach((r, i) => {
      if (!OPERATOR_ROLES.includes(r as OperatorRole)) problems.add(join(s.at('roles'), i), `expected one of ${OPERATOR_ROLES.join(', ')}, got ${JSON.stringify(r)}`);
    });
    if (id) {
      checkId(s.at('id'), id);
      operators[name] = { name, id, roles: roles.filter((r): r is OperatorRole => OPERATOR_ROLES.includes(r as OperatorRole)) };
    }
  });

  const approvals: Record<string, ApprovalGroupConfig> = {};
  eachNamed(root, 'approvals', NAME, NAME_EXPECTED, (name, s) => {
    const approvers = s.stringList('approvers', { required: true });
    const required = s.int('required', { min: 1, max: 100, fallback: 1 })!;
    const expiresMs = duration(s, 'expires', 900_000)!;
    // An approval a person must read and decide: not gone before anyone could, not lying around for weeks.
    if (expiresMs < 60_000 || expiresMs > 7 * 86_400_000) problems.add(s.at('expires'), `expected a duration from 1m to 7d, got ${JSON.stringify(s.raw['expires'])}`);
    const known = isObj(root.raw['operators']) ? root.raw['operators'] : {};
    approvers.forEach((a, i) => {
      // Own keys only: "toString" or "constructor" is not an operator because every object inherits one.
      if (!Object.hasOwn(known, a)) problems.add(join(s.at('approvers'), i), `names an unknown operator ${JSON.stringify(a)}`);
      // Only an operator who may call DecideApproval can ever vote: anyone else listed is a gap in the group.
      else if (Object.hasOwn(operators, a) && !operators[a]!.roles.includes('approver')) problems.add(join(s.at('approvers'), i), `names the operator ${JSON.stringify(a)}, who lacks the role "approver"`);
      if (approvers.indexOf(a) !== i) problems.add(join(s.at('approvers'), i), `lists ${JSON.stringify(a)} twice`);
    });
    if (required > approvers.length) problems.add(s.at('required'), `is ${required} but only ${approvers.length} approvers are listed`);
    else {
      // Four eyes: an agent's owner never decides its requests, so for that agent one approver fewer can vote.
      for (const agent of Object.values(agents)) {
        if (agent.owner && approvers.includes(agent.owner) && required > approvers.length - 1) {
          problems.add(s.at('required'), `is ${required}, but agent ${JSON.stringify(agent.name)} is owned by the approver ${JSON.stringify(agent.owner)}, who may not decide its requests: only ${approvers.length - 1} approvers are left for it`);
        }
      }
    }
    approvals[name] = { name, approvers, required, expiresMs };
  });
  // An owner is who answers for an agent (and who may never approve its requests): a configured operator.
  for (const agent of Object.values(agents)) {
    if (agent.owner && !Object.hasOwn(operators, agent.owner) && !(isObj(root.raw['operators']) && Object.hasOwn(root.raw['operators'], agent.owner))) {
      problems.add(`agents.${agent.name}.owner`, `names an unknown operator ${JSON.stringify(agent.owner)}`);
    }
  }

  const policiesRel = root.string('policies', { expect: 'a directory of .cedar files' });
  const policy = policySection(root.section('policy', false));
  const rots = root.section('rotation', false);
  const rotation: RotationSettings | undefined = rots ? { lockTtlMs: duration(rots, 'lock_ttl', DEFAULT_ROTATION_LOCK_TTL_MS) ?? DEFAULT_ROTATION_LOCK_TTL_MS } : undefined;
  if (rots && rotation && (rotation.lockTtlMs < 1000 || rotation.lockTtlMs > 24 * 3600_000)) problems.add(rots.at('lock_ttl'), `expected a duration from 1s to 24h, got ${describe(rots.raw['lock_ttl'])}`);
  rots?.done();
  const logLevel = (root.string('log_level', { required: false }) ?? 'info') as BrokerConfig['logLevel'];
  if (!LOG_LEVELS.has(logLevel)) problems.add('log_level', `expected one of ${[...LOG_LEVELS].join(', ')}`);
  root.done();

  if (!problems.empty || !listen || !tls?.ca || !tls.cert || !tls.key || !state || !origin || !signingKey || !policiesRel) {
    throw new ConfigError(configFile, problems.list.length ? problems.list : [{ path: '(root)', message: 'incomplete config' }]);
  }
  return deepFreeze<BrokerConfig>({
    file: path.resolve(configFile),
    devMode,
    listen,
    ...(healthListen ? { healthListen } : {}),
    ...(metricsListen ? { metricsListen } : {}),
    metrics,
    tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
    state,
    evidence: { origin, signingKey, keyOverlapMs, witnesses },
    limits: baseLimits,
    server: serverLimits,
    backends,
    secrets,
    actions,
    agents,
    operators,
    approvals,
    policies: path.resolve(baseDir, policiesRel),
    policy,
    trust,
    ...(rotation ? { rotation } : {}),
    logLevel,
  });
}
