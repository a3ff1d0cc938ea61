/**
 * The local sealed store: the embedded default backend. Every version of every
 * secret is sealed with XChaCha20-Poly1305 under a 32-byte master key and kept
 * in one JSON file (see sealed-file-format.ts). Readers take no lock (writes
 * are atomic renames); writers take an in-process queue, then an exclusive
 * lock file, so concurrent `put`s from any number of processes each get their
 * own version.
 *
 * Error kinds: `invalid_argument` for a bad name, version or value;
 * `not_found` for an unknown name or version; `failed_precondition` when the
 * master key is missing, mis-permissioned, or not the key this file was sealed
 * with; `internal` when the file is corrupt or a value fails authentication
 * (an integrity failure, which retrying cannot fix); `unavailable` for I/O
 * errors, a held lock, or use after `close()`. No message contains secret
 * bytes, ciphertext or libsodium text.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../../lib/clock';
import { BrokerError, notFound } from '../../lib/errors';
import { SecretValue } from '../../lib/secret-value';
import type {
  GetSecretOptions,
  ListableSecretBackend,
  PutSecretOptions,
  SecretListing,
  SecretVersion,
  SecretVersionInfo,
  WritableSecretBackend,
} from '../backend';
import { makeDirDurable, removeOrphanTemps, writeFileAtomic } from '../../lib/durable-files';
import { errCode } from '../../lib/errno';
import { acquireFileLock } from './file-lock';
import { loadMasterKey } from './master-key';
import { parseSealedStore, serializeSealedStore, type SealedStore } from './sealed-file-format';
import { associatedData, keyCheck, loadSodium, open, seal, type Sodium } from './sealing';
import { assertSecretName, assertVersion } from './secret-name';

export interface LocalBackendOptions {
  /** The configured backend name (config `backends.<name>`). */
  name: string;
  /** The sealed file, e.g. var/secrets.sealed. Created by the first put. */
  path: string;
  /** The master key file; must exist (see `ensureMasterKey`). */
  keyFile: string;
  clock: Clock;
  /** Dev mode only: accept a group/world-accessible key file. */
  allowInsecurePermissions?: boolean;
  warn?: (message: string) => void;
  /** Largest value `put` accepts. Default 64 KiB. */
  maxValueBytes?: number;
  /** How long a writer waits for the lock before `unavailable`. Default 10 s. */
  lockTimeoutMs?: number;
  /** Age after which a lock that cannot be checked by pid is abandoned. Default 30 s. */
  lockStaleMs?: number;
}

export type LocalSecretBackend = WritableSecretBackend & ListableSecretBackend & { readonly kind: 'local' };

export const DEFAULT_MAX_VALUE_BYTES = 64 * 1024;

/** Loads the master key and checks it against the sealed file if one exists. */
export async function openLocalBackend(opts: LocalBackendOptions): Promise<LocalSecretBackend> {
  const sodium = await loadSodium();
  const key = await loadMasterKey(opts.keyFile, {
    allowInsecurePermissions: opts.allowInsecurePermissions ?? false,
    ...(opts.warn ? { warn: opts.warn } : {}),
  });
  const backend = new LocalSealedBackend(opts, sodium, key);
  try {
    await backend.health();
  } catch (err) {
    await backend.close();
    throw err;
  }
  return backend;
}

class LocalSealedBackend implements LocalSecretBackend {
  readonly kind = 'local' as const;
  readonly type = 'static' as const;
  readonly name: string;
  readonly #opts: LocalBackendOptions;
  readonly #sodium: Sodium;
  #key: Uint8Array | null;
  readonly #keyCheck: Buffer;
  /** Serializes this instance's writers so they do not poll the lock file against each other. */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(opts: LocalBackendOptions, sodium: Sodium, key: Uint8Array) {
    this.name = opts.name;
    this.#opts = opts;
    this.#sodium = sodium;
    this.#key = key;
    this.#keyCheck = Buffer.from(keyCheck(sodium, key));
  }

  async get(name: string, opts: GetSecretOptions = {}): Promise<SecretVersion> {
    const key = this.#liveKey();
    assertSecretName(name);
    if (opts.version !== undefined) assertVersion(opts.version);
    if (opts.field !== undefined) {
      throw new BrokerError('invalid_argument', `field: backend "${this.name}" (local) stores whole values and has no fields`);
    }
    const store = await this.#read();
    if (!store) throw notFound(`secret "${name}" in backend "${this.name}"`);
    this.#checkKey(store);
    const versions = store.secrets.get(name);
    if (!versions) throw notFound(`secret "${name}" in backend "${this.name}"`);
    const entry = opts.version === undefined ? versions[versions.length - 1]! : versions[opts.version - 1];
    if (!entry) throw notFound(`version ${opts.version} of secret "${name}" in backend "${this.name}"`);
    const plain = open(this.#sodium, key, entry, associatedData(store.storeId, name, entry.version));
    if (!plain) {
      throw new BrokerError(
        'internal',
        `local secret store: version ${entry.version} of secret "${name}" in ${this.#opts.path} failed authentication ` +
          '(it was edited, moved to another name or version, or sealed with another key)',
      );
    }
    try {
      return { value: SecretValue.fromBytes(plain), version: entry.version, createdAt: entry.createdAt };
    } finally {
      plain.fill(0);
    }
  }

  async put(name: string, value: SecretValue, opts: PutSecretOptions = {}): Promise<SecretVersionInfo> {
    this.#liveKey();
    assertSecretName(name);
    if (!(value instanceof SecretValue)) throw new BrokerError('invalid_argument', 'value: must be a SecretValue');
    const max = this.#opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (value.length === 0) throw new BrokerError('invalid_argument', 'value: must not be empty');
    if (value.length > max) throw new BrokerError('invalid_argument', `value: must be at most ${max} bytes`);
    if (opts.cas !== undefined && (!Number.isSafeInteger(opts.cas) || opts.cas < 0)) throw new BrokerError('invalid_argument', 'cas: must be a version number or 0');
    const run = this.#writes.then(() => this.#putLocked(name, value, opts));
    this.#writes = run.catch(() => undefined);
    return run;
  }

  async list(): Promise<SecretListing[]> {
    this.#liveKey();
    const store = await this.#read();
    if (!store) return [];
    return [...store.secrets.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, versions]) => {
        const latest = versions[versions.length - 1]!;
        return { name, version: latest.version, createdAt: latest.createdAt };
      });
  }

  async health(): Promise<void> {
    this.#liveKey();
    const store = await this.#read();
    if (store) this.#checkKey(store);
  }

  async close(): Promise<void> {
    this.#key?.fill(0);
    this.#key = null;
  }

  async #putLocked(name: string, value: SecretValue, opts: PutSecretOptions): Promise<SecretVersionInfo> {
    const { path, clock } = this.#opts;
    await this.#io(`create the directory of ${path}`, () => makeDirDurable(dirname(path), 0o700));
    const lock = await this.#io(`lock ${path}`, () =>
      acquireFileLock(`${path}.lock`, {
        clock,
        what: `sealed file ${path}`,
        timeoutMs: this.#opts.lockTimeoutMs ?? 10_000,
        staleMs: this.#opts.lockStaleMs ?? 30_000,
      }),
    );
    try {
      await this.#io(`clean up ${path}`, () => removeOrphanTemps(path));
      // Read under the lock: this is the state our version number builds on.
      const store = (await this.#read()) ?? this.#emptyStore();
      this.#checkKey(store);
      const versions = store.secrets.get(name) ?? [];
      // The caller's fence first (rotation: is its token still the lock's current one?), inside our own lock.
      if (opts.fence) await opts.fence();
      if (opts.cas !== undefined && versions.length !== opts.cas) {
        throw new BrokerError('failed_precondition', `local secret store: secret "${name}" is at version ${versions.length}, not ${opts.cas}; nothing was written`);
      }
      const version = versions.length + 1;
      const plain = value.reveal();
      let sealed;
      try {
        sealed = seal(this.#sodium, this.#liveKey(), plain, associatedData(store.storeId, name, version));
      } finally {
        plain.fill(0);
      }
      const createdAt = clock.now();
      versions.push({ version, createdAt, nonce: Buffer.from(sealed.nonce), ciphertext: Buffer.from(sealed.ciphertext) });
      store.secrets.set(name, versions);
      await this.#io(`write ${path}`, () =>
        writeFileAtomic(path, serializeSealedStore(store), {
          mode: 0o600,
          beforeCommit: async () => {
            if (!(await lock.stillHeld())) {
              throw new BrokerError('unavailable', `local secret store: the lock on ${path} was taken over; nothing was written`);
            }
            // And again at the last moment before the rename that commits the write.
            if (opts.fence) await opts.fence();
          },
        }),
      );
      return { version, createdAt };
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  #emptyStore(): SealedStore {
    return {
      storeId: randomBytes(16).toString('base64url'),
      keyCheck: Buffer.from(this.#keyCheck),
      secrets: new Map(),
    };
  }

  /** The parsed sealed file, or null when it does not exist yet. */
  async #read(): Promise<SealedStore | null> {
    const { path } = this.#opts;
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(path);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return null;
      throw ioError(`read ${path}`, err);
    }
    return parseSealedStore(bytes, path);
  }

  #checkKey(store: SealedStore): void {
    if (!this.#sodium.memcmp(store.keyCheck, this.#keyCheck)) {
      throw new BrokerError(
        'failed_precondition',
        `local secret store: master key ${this.#opts.keyFile} is not the key sealed file ${this.#opts.path} was sealed with`,
      );
    }
  }

  #liveKey(): Uint8Array {
    if (!this.#key) throw new BrokerError('unavailable', `backend "${this.name}" (local) is closed`);
    return this.#key;
  }

  /** Runs file-system work, turning anything that is not already a BrokerError into `unavailable`. */
  async #io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      throw ioError(what, err);
    }
  }
}

function ioError(what: string, err: unknown): BrokerError {
  return new BrokerError('unavailable', `local secret store: cannot ${what} (${errCode(err)})`, { cause: err });
}
