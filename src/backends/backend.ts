/**
 * The contracts every secret backend implements. Two shapes exist because
 * secrets come in two shapes:
 *
 * - a **static secret store** holds named, versioned values that the broker reads
 *   and injects into brokered calls, and that rotation replaces (local sealed
 *   file, HashiCorp Vault KV v2, AWS Secrets Manager);
 * - a **dynamic credential backend** mints one credential per lease and drops it
 *   when the lease ends (PostgreSQL roles, Vault `database/creds/<role>`). Its
 *   shape follows Infisical's dynamic-secret providers: create / renew /
 *   revoke / validate.
 *
 * Rules that hold for every implementation (the contract suite checks them):
 * - Secret bytes only ever travel as `SecretValue`; nothing else returned here
 *   (versions, ids, handles, listings) is secret, so it may be logged, stored
 *   in the state store and written to evidence.
 * - Every rejection is a `BrokerError`. Vendor errors (HTTP bodies, SQL errors,
 *   SDK messages) are translated inside the backend's own folder; the vendor
 *   error may ride along as `cause` (logged server-side, never sent), and the
 *   `message` names only our own concepts: backend name, secret name, version.
 * - Kinds used: `invalid_argument` (bad name/version/spec), `not_found` (no
 *   such secret or version), `unavailable` (the store is unreachable, locked,
 *   or returned a transient error: retrying may help), `failed_precondition`
 *   (misconfiguration the operator must fix: wrong key, bad permissions),
 *   `internal` (integrity failures such as a sealed value that fails
 *   authentication; retrying will not help).
 * - Backends hold no module-level state; each is built by a factory that is
 *   given its config and a `Clock`, and `close()` releases what it holds.
 */
import { BrokerError, type ErrorKind } from '../lib/errors';
import type { SecretValue } from '../lib/secret-value';

/** Matches the `kind` of a configured backend (config `backends.<name>.kind`). */
export type BackendKind = 'local' | 'vault' | 'aws-secrets-manager' | 'postgres';

/** What every backend, static or dynamic, has. */
export interface BackendLifecycle {
  readonly kind: BackendKind;
  /** The configured backend name (the key under config `backends`); used in messages. */
  readonly name: string;
  /**
   * Resolves when the backend can serve requests now (the key loads, the server
   * answers, the token is valid). Rejects with a BrokerError, normally
   * `unavailable` or `failed_precondition`. Cheap enough for a health probe.
   */
  health(): Promise<void>;
  /** Releases connections and wipes key material. Later calls fail with `unavailable`. Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Static secrets
// ---------------------------------------------------------------------------

export interface GetSecretOptions {
  /**
   * A specific version; omitted means the current one. Versions are positive
   * integers that grow by one with each `put` (local, Vault KV v2 numbering).
   */
  version?: number;
  /**
   * A field inside a structured value: a key of a Vault KV v2 `data` map, or of
   * a JSON `SecretString` in AWS. Backends that store opaque bytes (local)
   * reject it with `invalid_argument`.
   */
  field?: string;
}

/** How a write is fenced (rotation): a late or concurrent writer's write is refused, never applied. */
export interface PutSecretOptions {
  /**
   * Check-and-set: the write succeeds only while the current version is this
   * one (0: the name does not exist yet); otherwise `failed_precondition` and
   * nothing is written. Not retried.
   */
  cas?: number;
  /**
   * Called inside the store's own write lock just before the write commits
   * (local store); a rejection aborts the write and is passed on.
   */
  fence?: () => Promise<void>;
}

/** Non-secret facts about one stored version. */
export interface SecretVersionInfo {
  /** Positive integer; see `GetSecretOptions.version`. */
  version: number;
  /**
   * The vendor's own opaque id for this version when it has one (AWS
   * `VersionId`). Stores without numbering map their ids to `version`
   * themselves (for AWS, e.g. a staging label per version) so callers only
   * ever deal with integers.
   */
  versionId?: string;
  /** When this version was written, ms since the epoch, if the store knows. Rotation uses it for age. */
  createdAt?: number;
}

export interface SecretVersion extends SecretVersionInfo {
  value: SecretValue;
}

/** One row of `list()`: a name and its current version, never a value. */
export interface SecretListing extends SecretVersionInfo {
  name: string;
}

/**
 * A named, versioned secret store. `get` is required; writing and listing are
 * capabilities (a read-only Vault token, for example, offers neither), so test
 * for them with `canPut` / `canList` before use.
 */
export interface StaticSecretBackend extends BackendLifecycle {
  readonly type: 'static';
  /** The current value, or the requested version. `not_found` for an unknown name or version. */
  get(name: string, opts?: GetSecretOptions): Promise<SecretVersion>;
  /**
   * Stores `value` as a new version (current + 1, or 1 for a new name), makes it
   * current and returns its version. Earlier versions stay readable. Durable
   * when it resolves. The caller keeps ownership of `value` (and may wipe it).
   */
  put?(name: string, value: SecretValue, opts?: PutSecretOptions): Promise<SecretVersionInfo>;
  /** Every name with its current version, sorted by name. Never includes values. */
  list?(): Promise<SecretListing[]>;
}

export type WritableSecretBackend = StaticSecretBackend & Required<Pick<StaticSecretBackend, 'put'>>;
export type ListableSecretBackend = StaticSecretBackend & Required<Pick<StaticSecretBackend, 'list'>>;

export const canPut = (b: StaticSecretBackend): b is WritableSecretBackend => typeof b.put === 'function';
export const canList = (b: StaticSecretBackend): b is ListableSecretBackend => typeof b.list === 'function';

// ---------------------------------------------------------------------------
// Dynamic credentials
// ---------------------------------------------------------------------------

/**
 * The lease a credential is minted for. Backends use it to name the credential
 * after the lease (so an orphan can be traced and reaped) and to set an
 * upstream expiry as defence in depth (PostgreSQL `VALID UNTIL`, Vault TTL),
 * so a credential dies even if the broker never gets to revoke it.
 */
export interface LeaseBinding {
  leaseId: string;
  /** Configured agent name. */
  agent: string;
  action: string;
  resource: string;
  /** ms since the epoch: the expiry to set now. */
  expiresAt: number;
  /** ms since the epoch: `issuedAt + maxTtl`. No renewal may go past it. */
  maxExpiresAt: number;
}

/**
 * Identifies a minted credential so it can be renewed or revoked later, even by
 * another broker process after a restart. Not secret and JSON-serializable: the
 * lease manager persists it next to the lease (e.g. a PostgreSQL role name, or
 * a Vault `lease_id`).
 */
export interface CredentialHandle {
  /** Configured backend name that minted it. */
  backend: string;
  /** Backend-specific id, e.g. the role name or the Vault lease id. */
  id: string;
  /** Any further non-secret details revocation needs. */
  attributes?: Readonly<Record<string, string>>;
}

/** The credential shape `Lease.database_credential` carries to the agent. */
export interface DatabaseCredential {
  kind: 'database';
  host: string;
  port: number;
  database: string;
  user: string;
  password: SecretValue;
}

/** Union of credential shapes; new kinds are added here. */
export type DynamicCredential = DatabaseCredential;

export interface IssuedCredential {
  handle: CredentialHandle;
  credential: DynamicCredential;
  /** ms since the epoch; never later than `lease.expiresAt`. */
  expiresAt: number;
  /**
   * Non-secret facts evidence records about what was granted (for PostgreSQL:
   * the role name and its grants). Never a password or token.
   */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * Mints one credential per lease. `TSpec` is what the action configures
 * (for PostgreSQL, the grants; for Vault, the role), compiled from config.
 *
 * Every lease ends (invariant 4): the lease manager calls `revoke` on expiry
 * and on revocation and retries until it resolves; a rejection there is shown
 * as `revoke_failed`, never dropped. So `revoke` must be idempotent: revoking
 * something already gone resolves.
 */
/**
 * A credential's secret made ahead by `prepare`, opaque to the caller. Until
 * `create` takes it, the caller owns it and must `discard` it if it will not
 * call `create` (a failed record of the planned handle).
 */
export interface PreparedSecret {
  /** The backend that made it: another backend's `create` ignores it. */
  readonly backend: string;
  /** Wipes the secret; idempotent, and harmless once `create` has taken it. */
  discard(): void;
}

/** How a revocation is sent; a store ignores it, the registry's breaker reads it. */
export interface RevokeOptions {
  /**
   * An explicit retry of a revocation that failed (RevokeLease or RevokeLeases on a
   * revoke_failed lease): it passes an open circuit breaker as its trial call,
   * instead of failing at once, so an operator need not wait for the open period.
   */
  trial?: boolean;
}

export interface DynamicCredentialBackend<TSpec = unknown> extends BackendLifecycle {
  readonly type: 'dynamic';
  /**
   * Mints a credential for `lease` with upstream expiry `lease.expiresAt`.
   * If it fails part-way, it cleans up what it created before rejecting. If
   * create fails after the store minted something it could not clean up, the
   * error is a `CredentialLeftError` that carries `handle` (find it with
   * `CredentialLeftError.handleIn`, also through wrappers' `cause`), so the
   * caller retries the revoke (until it succeeds) instead of leaving it upstream.
   */
  create(spec: TSpec, lease: LeaseBinding, planned?: CredentialHandle, prepared?: PreparedSecret): Promise<IssuedCredential>;
  /**
   * Optional: names the credential before it exists, with no effect upstream
   * (for PostgreSQL, a random role name), so the broker records the handle
   * durably first and a crash between creating it and storing the lease
   * leaves nothing the sweeper cannot find. `create` is then given that
   * handle and must create exactly it.
   */
  plan?(spec: TSpec, lease: LeaseBinding): CredentialHandle;
  /**
   * Optional: starts making the secret of the next credential (for
   * PostgreSQL, a random password and its SCRAM verifier: a PBKDF2, on
   * libuv's pool) with no effect upstream, so that work runs while the caller
   * records the planned handle. The caller passes it to `create`, which uses
   * it (and wipes it if the create fails), or discards it.
   */
  prepare?(spec: TSpec): PreparedSecret;
  /**
   * Optional: every credential this broker could have created that exists
   * upstream now (for PostgreSQL, the roles with the configured prefix), for
   * the orphan sweeper: those no lease or pending grant owns are revoked.
   */
  listIssued?(): Promise<CredentialHandle[]>;
  /**
   * Optional: revokes many credentials in one round (trust revocation ends
   * many leases at once). Resolves with the ids that are gone (revoked now or
   * already); the rest failed and are retried by the caller.
   */
  revokeMany?(handles: readonly CredentialHandle[], opts?: RevokeOptions): Promise<string[]>;
  /**
   * Extends the credential to `min(expiresAt, lease.maxExpiresAt)` and returns
   * the expiry actually set (the upstream may cap it lower). The caller has
   * already capped at the max TTL; the backend caps again and never extends.
   */
  renew(handle: CredentialHandle, lease: Pick<LeaseBinding, 'leaseId' | 'expiresAt' | 'maxExpiresAt'>): Promise<{ expiresAt: number }>;
  /** Drops the credential upstream and ends its sessions where the store can. Idempotent. */
  revoke(handle: CredentialHandle, opts?: RevokeOptions): Promise<void>;
  /**
   * Checks, without minting anything, that `spec` is well formed and that the
   * backend may mint it (connection, admin rights, schemas exist). Used by
   * `config check` and at startup.
   */
  validate?(spec: TSpec): Promise<void>;
}

/**
 * A `create` that failed after the store minted a credential which the
 * backend's own clean-up could not revoke: `handle` names it so the caller
 * revokes it (and retries until that succeeds). Kind and message are those of
 * the failure that made create give up; the handle is not secret.
 */
export class CredentialLeftError extends BrokerError {
  readonly handle: CredentialHandle;

  constructor(kind: ErrorKind, message: string, handle: CredentialHandle, opts: { cause?: unknown } = {}) {
    super(kind, message, opts);
    this.name = 'CredentialLeftError';
    this.handle = handle;
  }

  /**
   * The handle of a credential left upstream by a failed create: `err` or any
   * error in its `cause` chain (wrappers such as the backend registry keep the
   * original as `cause`).
   */
  static handleIn(err: unknown): CredentialHandle | undefined {
    for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
      if (e instanceof CredentialLeftError) return e.handle;
    }
    return undefined;
  }

  /** `err` as a BrokerError that carries `handle`. */
  static wrap(err: BrokerError, handle: CredentialHandle): CredentialLeftError {
    return new CredentialLeftError(err.kind, err.message, handle, { cause: err });
  }
}

export type Backend = StaticSecretBackend | DynamicCredentialBackend;
