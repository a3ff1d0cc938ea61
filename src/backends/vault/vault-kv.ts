/**
 * Static secrets in a Vault KV v2 mount (config `mount`, default "secret").
 *
 * - `get(name, { version?, field? })` reads `<mount>/data/<name>[?version=N]`.
 *   `version` is KV v2's own integer numbering; `createdAt` its
 *   `created_time`. `field` picks one key of the data map. Without `field`, a
 *   map with exactly one key gives that key's value; a map with several keys
 *   is `invalid_argument` (the secret needs a `field`). The value must be a
 *   JSON string: a number, boolean, object or null is refused
 *   (`failed_precondition`), never converted, so what is injected is exactly
 *   what was stored.
 * - `put(name, value)` writes `{ "value": <value> }` (the one key `value`, so a
 *   secret written by the broker reads back without a field) with
 *   check-and-set = the current version from `<mount>/metadata/<name>` (0 for
 *   a new name). Puts from this backend to one name wait for each other;
 *   when an outside writer got in between, it reads again and retries, at most
 *   3 times. The value must be UTF-8 (a JSON string).
 * - `list()` walks `<mount>/metadata/` and reads each secret's metadata for its
 *   current version.
 */
import { KeyedMutex } from '../../lib/keyed-mutex';
import { SecretValue } from '../../lib/secret-value';
import { BrokerError } from '../../lib/errors';
import type {
  GetSecretOptions,
  ListableSecretBackend,
  PutSecretOptions,
  SecretListing,
  SecretVersion,
  SecretVersionInfo,
  WritableSecretBackend,
} from '../backend';
import { badResponse, statusOf, toBrokerError, VaultHttpError, type VaultErrorContext } from './vault-errors';
import { assertField, assertKvName, assertVersion, encodePath } from './vault-paths';
import type { VaultSession } from './vault-session';
import { fieldOf } from '../secret-field';

export type VaultKvBackend = WritableSecretBackend & ListableSecretBackend & { readonly kind: 'vault' };

/** The key `put` writes under. */
export const PUT_FIELD = 'value';
const CAS_ATTEMPTS = 3;
const MAX_LISTED = 10_000;

export function createVaultKv(session: VaultSession, close: () => Promise<void>): VaultKvBackend {
  const name = session.name;
  const mount = encodeURIComponent(session.cfg.mount);

  const ctxFor = (secret: string, verb: string, version?: number): VaultErrorContext => ({
    backend: name,
    subject: version === undefined ? `secret "${secret}"` : `version ${version} of secret "${secret}"`,
    verb,
  });

  /** Current version and its creation time from the metadata; version 0 when the name is new. */
  const readMetadata = async (secret: string, signal: AbortSignal): Promise<{ version: number; createdAt?: number }> => {
    let body: unknown;
    try {
      body = await session.call({ method: 'GET', path: `${mount}/metadata/${encodePath(secret)}` }, signal);
    } catch (err) {
      if (statusOf(err) === 404) return { version: 0 };
      throw err;
    }
    const data = (body as { data?: { current_version?: unknown; versions?: Record<string, { created_time?: unknown }> } })?.data;
    const version = data?.current_version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) throw new Error('metadata has no current_version');
    const createdAt = parseTime(data?.versions?.[String(version)]?.created_time);
    return { version, ...(createdAt !== undefined ? { createdAt } : {}) };
  };

  /** Writes `{ value: text }` with check-and-set = the current version; reads again after a mismatch. */
  const putWithCas = async (secret: string, text: string, opts: PutSecretOptions): Promise<SecretVersionInfo> => {
    const ctx = ctxFor(secret, 'write');
    const signal = session.deadline();
    for (let attempt = 1; ; attempt++) {
      try {
        // A caller's own check-and-set version (rotation: the version it read under its lock) is not retried.
        const cas = opts.cas ?? (await readMetadata(secret, signal)).version;
        if (opts.fence) await opts.fence();
        const body = await session.call(
          { method: 'POST', path: `${mount}/data/${encodePath(secret)}`, body: { options: { cas }, data: { [PUT_FIELD]: text } } },
          signal,
        );
        const d = (body as { data?: { version?: unknown; created_time?: unknown } })?.data;
        if (typeof d?.version !== 'number' || !Number.isSafeInteger(d.version)) throw badResponse(ctx, 'has no version');
        const createdAt = parseTime(d.created_time);
        return { version: d.version, ...(createdAt !== undefined ? { createdAt } : {}) };
      } catch (err) {
        if (err instanceof BrokerError) throw err;
        if (isCasMismatch(err) && opts.cas !== undefined) {
          throw new BrokerError('failed_precondition', `secret "${secret}" in backend "${name}" is no longer at version ${opts.cas}; nothing was written`, { cause: err });
        }
        if (isCasMismatch(err) && attempt < CAS_ATTEMPTS) continue;
        if (isCasMismatch(err)) {
          throw new BrokerError('unavailable', `secret "${secret}" in backend "${name}" kept changing while the broker wrote it; try again`, { cause: err });
        }
        throw toBrokerError(err, ctx);
      }
    }
  };

  /** Puts to one name from this backend wait for each other, so check-and-set retries are only for outside writers. */
  const writes = new KeyedMutex();

  const kv: VaultKvBackend = {
    kind: 'vault',
    type: 'static',
    name,

    async get(secret: string, opts: GetSecretOptions = {}): Promise<SecretVersion> {
      session.live();
      assertKvName(secret);
      if (opts.version !== undefined) assertVersion(opts.version);
      if (opts.field !== undefined) assertField(opts.field);
      const ctx = ctxFor(secret, 'read', opts.version);
      const query = opts.version === undefined ? '' : `?version=${opts.version}`;
      let body: unknown;
      try {
        body = await session.call({ method: 'GET', path: `${mount}/data/${encodePath(secret)}${query}` }, session.deadline());
      } catch (err) {
        throw toBrokerError(err, ctx);
      }
      const d = (body as { data?: { data?: unknown; metadata?: { version?: unknown; created_time?: unknown } } })?.data;
      const version = d?.metadata?.version;
      if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw badResponse(ctx, 'has no version in its metadata');
      // A deleted or destroyed version answers 404; a null data map is the same thing said differently.
      if (d?.data === null || d?.data === undefined) throw toBrokerError(new VaultHttpError(404, []), ctx);
      if (typeof d.data !== 'object' || Array.isArray(d.data)) throw badResponse(ctx, 'is not a KV v2 data map');
      const map = d.data as Record<string, unknown>;
      let field = opts.field;
      if (field === undefined) {
        const keys = Object.keys(map);
        if (keys.length > 1) {
          throw new BrokerError('invalid_argument', `field: secret "${secret}" in backend "${name}" holds ${keys.length} keys; name one with field`);
        }
        if (keys.length === 0) throw new BrokerError('not_found', `secret "${secret}" in backend "${name}" has no keys`);
        field = keys[0]!;
      }
      const value = fieldOf(map, field, `${ctx.subject} in backend "${name}"`);
      const createdAt = parseTime(d.metadata?.created_time);
      return { value, version, ...(createdAt !== undefined ? { createdAt } : {}) };
    },

    async put(secret: string, value: SecretValue, opts: PutSecretOptions = {}): Promise<SecretVersionInfo> {
      session.live();
      assertKvName(secret);
      if (!(value instanceof SecretValue)) throw new BrokerError('invalid_argument', 'value: must be a SecretValue');
      if (value.length === 0) throw new BrokerError('invalid_argument', 'value: must not be empty');
      const bytes = value.reveal();
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new BrokerError('invalid_argument', 'value: a Vault KV value must be UTF-8 text');
      } finally {
        bytes.fill(0);
      }
      if (opts.cas !== undefined && (!Number.isSafeInteger(opts.cas) || opts.cas < 0)) throw new BrokerError('invalid_argument', 'cas: must be a version number or 0');
      return writes.run(secret, () => putWithCas(secret, text, opts));
    },

    async list(): Promise<SecretListing[]> {
      session.live();
      const out: SecretListing[] = [];
      const walk = async (prefix: string): Promise<void> => {
        let body: unknown;
        try {
          body = await session.call({ method: 'GET', path: `${mount}/metadata/${prefix ? `${encodePath(prefix.replace(/\/$/, ''))}/` : ''}?list=true` }, session.deadline());
        } catch (err) {
          if (statusOf(err) === 404) return; // an empty folder
          throw toBrokerError(err, { backend: name, subject: 'the secret names', verb: 'list' });
        }
        const keys = (body as { data?: { keys?: unknown } })?.data?.keys;
        if (!Array.isArray(keys)) return;
        for (const key of keys) {
          if (typeof key !== 'string' || key === '') continue;
          if (key.endsWith('/')) {
            await walk(`${prefix}${key}`);
            continue;
          }
          const full = `${prefix}${key}`;
          try {
            assertKvName(full);
          } catch {
            continue; // a name the broker could never be configured to read
          }
          if (out.length >= MAX_LISTED) throw new BrokerError('resource_exhausted', `backend "${name}" holds more than ${MAX_LISTED} secrets; list is bounded`);
          let meta;
          try {
            meta = await readMetadata(full, session.deadline());
          } catch (err) {
            throw toBrokerError(err, ctxFor(full, 'list'));
          }
          if (meta.version > 0) out.push({ name: full, ...meta });
        }
      };
      await walk('');
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    health: () => healthCheck(session),
    close,
  };
  return kv;
}

/** The token is valid and Vault answers, unsealed: `auth/token/lookup-self`. */
export async function healthCheck(session: VaultSession): Promise<void> {
  session.live();
  try {
    await session.call({ method: 'GET', path: 'auth/token/lookup-self' }, session.deadline());
  } catch (err) {
    throw toBrokerError(err, { backend: session.name, subject: 'its own token', verb: 'look up' });
  }
}

/** KV v2 refuses a stale check-and-set with 400 ("check-and-set parameter did not match the current version"); 412 from some fronts. */
function isCasMismatch(err: unknown): boolean {
  if (!(err instanceof VaultHttpError)) return false;
  if (err.status === 412) return true;
  return err.status === 400 && err.errors.some((e) => e.includes('check-and-set') && e.includes('did not match'));
}

function parseTime(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}
