import type { DynamicCredentialSource } from '../broker/dynamic-credentials';
import type { Metrics } from '../metrics/metrics';
import type { ActionConfig, AwsBackendConfig, BackendConfig, BackendResilience, BrokerConfig, PostgresBackendConfig, SecretConfig, VaultBackendConfig } from '../config/config-types';
import type { Clock } from '../lib/clock';
import { BrokerError } from '../lib/errors';
import { SecretValue } from '../lib/secret-value';
import type { Logger } from '../lib/logger';
import { awsRotationOf } from './aws/aws-rotation';
import type { CredentialHandle, DynamicCredentialBackend, SecretVersion, StaticSecretBackend } from './backend';
import { CircuitBreaker, type BreakerState } from './circuit-breaker';
import { openLocalBackend } from './local';
import { checkPostgresSpec, leaseRoleName, openPostgresBackend, planPostgresRole, preparePostgresSecret, type PostgresBackend, type PostgresSpec } from './postgres';
import { SecretCache } from './secret-cache';

/** A secret read for one brokered call: the value and which version of it (recorded in evidence). */
export interface ResolvedSecret {
  value: SecretVersion['value'];
  /** The configured backend name. */
  backend: string;
  version: number;
  /** The store's own id of that version, when it has one (AWS VersionId). */
  versionId?: string;
}

/** What a configured backend opens into: a static store, a credential minter, or both (Vault). */
export interface OpenedBackend {
  static?: StaticSecretBackend;
  dynamic?: DynamicCredentialBackend;
  health(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the remote kinds; the composition root passes the real ones, tests may pass others. */
export interface RemoteBackendFactories {
  vault?: (cfg: VaultBackendConfig, deps: { clock: Clock; log: Logger }) => OpenedBackend;
  aws?: (cfg: AwsBackendConfig, deps: { clock: Clock; log: Logger }) => OpenedBackend;
}

export interface BackendRegistryDeps {
  config: Pick<BrokerConfig, 'secrets' | 'backends' | 'devMode'>;
  clock: Clock;
  log: Logger;
  factories?: RemoteBackendFactories;
  /** Times backend calls and counts their failures (src/metrics); default none. */
  metrics?: Pick<Metrics, 'backend'>;
  /** A dynamic backend found one of its credentials working against the broker (src/broker/credential-misuse.ts). */
  onCredentialMisuse?: (handle: CredentialHandle, what: string) => void;
}

const NO_RESILIENCE: BackendResilience = Object.freeze({ cacheTtlMs: 0, timeoutMs: 0, breakerFailures: 0, breakerOpenMs: 0 });

interface Slot {
  cfg: BackendConfig;
  /** Opened on first use (a daemon whose store is not there yet still starts). */
  opened?: Promise<OpenedBackend>;
  breaker?: CircuitBreaker;
  probe?: NodeJS.Timeout;
}

/**
 * Every configured backend, opened lazily, each behind its own circuit breaker
 * (remote kinds), with one in-memory cache of static reads. A backend that is
 * down fails only its own secrets (UNAVAILABLE, no backend text: the log has
 * the detail); an open breaker is probed in the background, so service resumes
 * without a restart when the store returns.
 */
export class BackendRegistry {
  readonly #slots = new Map<string, Slot>();
  readonly #cache: SecretCache;
  /** Store reads in flight, per cache key. */
  readonly #reading = new Map<string, Promise<SecretVersion>>();
  #closed = false;
  /** Each backend's breaker state (a backend without a breaker is always closed), for metrics. */
  breakerStates(): Array<{ backend: string; state: BreakerState }> {
    return [...this.#slots.values()].map((slot) => ({ backend: slot.cfg.name, state: slot.breaker?.state ?? 'closed' }));
  }

  /** Told when a backend's breaker changes state (health service). */
  onStateChange: ((backend: string, state: BreakerState) => void) | undefined;

  constructor(private readonly deps: BackendRegistryDeps) {
    this.#cache = new SecretCache({ clock: deps.clock });
    for (const cfg of Object.values(deps.config.backends)) {
      const slot: Slot = { cfg };
      const r = resilienceOf(cfg);
      if (r.breakerFailures > 0) {
        slot.breaker = new CircuitBreaker({
          name: cfg.name,
          failures: r.breakerFailures,
          openMs: r.breakerOpenMs,
          clock: deps.clock,
          onChange: (state, previous) => this.#changed(slot, state, previous),
        });
      }
      this.#slots.set(cfg.name, slot);
    }
  }

  /** The breaker state of each backend that has one. */
  states(): Record<string, BreakerState> {
    const out: Record<string, BreakerState> = {};
    for (const [name, s] of this.#slots) if (s.breaker) out[name] = s.breaker.state;
    return out;
  }

  /** Reads a configured secret for one call. The caller wipes the value. */
  async resolve(secretName: string): Promise<ResolvedSecret> {
    const s = this.deps.config.secrets[secretName];
    if (!s) throw new BrokerError('internal', `secret ${secretName} is not configured`);
    return this.#resolve(s);
  }

  async #resolve(s: SecretConfig): Promise<ResolvedSecret> {
    const secretName = s.name;
    const slot = this.#slots.get(s.backend);
    if (!slot) throw new BrokerError('internal', `backend ${s.backend} is not configured`);
    const key = SecretCache.key(secretName, s.version, s.field);
    const cached = this.#cache.get(key);
    if (cached) return resolved(s, cached);
    // Concurrent cold reads of one secret share one store read (a burst of calls is one GetSecretValue,
    // not N against the store's quota); each caller gets its own copy to wipe.
    let read = this.#reading.get(key);
    if (!read) {
      const mine: Promise<SecretVersion> = this.#read(slot, s).then((v) => {
        // A read that `invalidate` disowned on its way (the secret changed) is not cached.
        if (this.#reading.get(key) === mine) this.#cache.set(key, secretName, v, resilienceOf(slot.cfg).cacheTtlMs);
        return v;
      });
      read = mine;
      this.#reading.set(key, mine);
      const done = (): void => {
        if (this.#reading.get(key) === mine) this.#reading.delete(key);
      };
      mine.then((v) => {
        done();
        // Every caller that got this read copies the value in a microtask; the shared original goes after.
        setImmediate(() => v.value.wipe());
      }, done);
    }
    const v = await read;
    const bytes = v.value.reveal();
    try {
      return resolved(s, { ...v, value: SecretValue.fromBytes(bytes) });
    } finally {
      bytes.fill(0);
    }
  }

  /** Drops the cached reads of one configured secret (rotation calls it after a write). */
  invalidate(secretName: string): void {
    this.#cache.invalidate(secretName);
    // Reads already on their way may return the old value: later resolves do not join them.
    const prefix = SecretCache.keyPrefix(secretName);
    for (const key of this.#reading.keys()) if (key.startsWith(prefix)) this.#reading.delete(key);
  }

  /**
   * The credential minters (Vault database secrets) for the lease service:
   * each call opens its backend on first use and goes through its breaker.
   */
  credentialSource(actions: Readonly<Record<string, ActionConfig>>): DynamicCredentialSource {
    const minters = new Map<string, DynamicCredentialBackend>();
    for (const [name, slot] of this.#slots) if (slot.cfg.kind === 'vault' || slot.cfg.kind === 'postgres') minters.set(name, this.#minter(slot));
    return {
      forAction: (action) => {
        const a = actions[action.name] ?? action;
        if (a.postgres) {
          const backend = minters.get(a.postgres.backend);
          const spec: PostgresSpec = { grants: a.postgres.grants, connectionLimit: a.postgres.connectionLimit, statementTimeoutMs: a.postgres.statementTimeoutMs };
          return backend?.kind === 'postgres' ? { backend, spec } : undefined;
        }
        const backend = a.vaultDynamic ? minters.get(a.vaultDynamic.backend) : undefined;
        return backend?.kind === 'vault' && a.vaultDynamic ? { backend, spec: { role: a.vaultDynamic.role, connection: a.vaultDynamic.connection } } : undefined;
      },
      byName: (name) => minters.get(name),
    };
  }

  #minter(slot: Slot): DynamicCredentialBackend {
    const name = slot.cfg.name;
    const dynamicOf = async (): Promise<DynamicCredentialBackend> => {
      const b = await this.#open(slot);
      if (!b.dynamic) throw new BrokerError('internal', `backend ${name} does not mint credentials`);
      return b.dynamic;
    };
    const cfg = slot.cfg;
    // plan, prepare, listIssued and revokeMany are capabilities: offered only where the backend kind has them.
    const pg: Partial<DynamicCredentialBackend> =
      cfg.kind === 'postgres'
        ? {
            // Naming a role needs no connection (and no breaker): it has no effect upstream.
            plan: (spec) => {
              checkPostgresSpec(spec as PostgresSpec);
              return planPostgresRole(cfg);
            },
            // So is making the next password and its verifier (the backend's create recognises its own).
            prepare: (spec) => {
              checkPostgresSpec(spec as PostgresSpec);
              return preparePostgresSecret(cfg);
            },
            listIssued: () => this.#guarded(slot, 'listing its credentials', async () => (await dynamicOf()).listIssued!(), undefined, false),
            revokeMany: (handles, opts) => this.#guarded(slot, 'revoking credentials', async () => (await dynamicOf()).revokeMany!(handles), undefined, false, opts?.trial),
            // The grant check at start (its caller logs each failure, naming the action and grant).
            validate: (spec) => this.#guarded(slot, 'checking grants', async () => (await dynamicOf()).validate!(spec), undefined, false),
          }
        : {};
    return {
      kind: slot.cfg.kind,
      name,
      type: 'dynamic',
      create: (spec, lease, planned, prepared) => {
        // The breaker may refuse before create runs: whatever was prepared is wiped then, not left behind.
        const run = this.#guarded(slot, 'issuing a credential', async () => (await dynamicOf()).create(spec, lease, planned, prepared), undefined, false);
        return prepared ? run.catch((err: unknown) => { prepared.discard(); throw err; }) : run;
      },
      renew: (handle, lease) => this.#guarded(slot, 'renewing a credential', async () => (await dynamicOf()).renew(handle, lease), undefined, false),
      revoke: (handle, opts) => this.#guarded(slot, 'revoking a credential', async () => (await dynamicOf()).revoke(handle), undefined, false, opts?.trial),
      ...pg,
      // Its caller (the revoker's probe of an unreachable backend, every few seconds while one is down) logs it.
      health: () => this.#guarded(slot, 'a health check', async () => (await this.#open(slot)).health(), undefined, false),
      // The registry closes what it opened.
      close: async () => undefined,
    };
  }

  /** Runs one call to a backend through its breaker, mapping failures to our own words. */
  async call<T>(backendName: string, what: string, fn: (b: OpenedBackend) => Promise<T>): Promise<T> {
    const slot = this.#slots.get(backendName);
    if (!slot) throw new BrokerError('internal', `backend ${backendName} is not configured`);
    return this.#guarded(slot, what, async () => fn(await this.#open(slot)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.clear();
    for (const slot of this.#slots.values()) {
      if (slot.probe) clearTimeout(slot.probe);
      await slot.opened?.then((b) => b.close()).catch(() => undefined);
      delete slot.opened;
    }
  }

  async #read(slot: Slot, s: SecretConfig): Promise<SecretVersion> {
    return this.#guarded(slot, `secret ${s.name}`, async () => {
      const b = await this.#open(slot);
      if (!b.static) throw new BrokerError('internal', `backend ${slot.cfg.name} holds no static secrets`);
      return b.static.get(s.ref, { ...(s.version !== undefined ? { version: s.version } : {}), ...(s.field !== undefined ? { field: s.field } : {}) });
    }, s.name);
  }

  /**
   * `logged: false` for the credential minter's calls: their callers (the lease service, the
   * revoker, the sweeper) log each failure with the lease it concerns, so one line says it once.
   * `trial`: an explicit retry that passes an open breaker as its trial call (CircuitBreaker).
   */
  async #guarded<T>(slot: Slot, what: string, fn: () => Promise<T>, secretName?: string, logged = true, trial = false): Promise<T> {
    if (this.#closed) throw new BrokerError('unavailable', `backend ${slot.cfg.name} is unavailable (the broker is stopping)`);
    const started = performance.now();
    try {
      const out = slot.breaker ? await slot.breaker.run(fn, { trial }) : await fn();
      this.deps.metrics?.backend(slot.cfg.name, 'ok', (performance.now() - started) / 1000);
      return out;
    } catch (cause) {
      this.deps.metrics?.backend(slot.cfg.name, 'error', (performance.now() - started) / 1000);
      // The detail (a vendor's text) goes to the log only; the caller gets our own words.
      if (logged) this.deps.log.warn({ err: cause, backend: slot.cfg.name, what }, 'backend call failed');
      const kind = cause instanceof BrokerError ? cause.kind : 'unavailable';
      if (kind === 'not_found' || kind === 'failed_precondition' || kind === 'invalid_argument' || kind === 'permission_denied') {
        throw new BrokerError('failed_precondition', secretName ? `the broker cannot read secret ${secretName}` : `backend ${slot.cfg.name} refused ${what}`, { cause });
      }
      // A limit the operator set (a postgres backend's max_lease_connections): the backend is up.
      if (kind === 'resource_exhausted') throw new BrokerError('resource_exhausted', `backend ${slot.cfg.name} is at a limit its operator set: ${what}`, { cause });
      throw new BrokerError('unavailable', secretName ? `secret backend ${slot.cfg.name} is unavailable` : `backend ${slot.cfg.name} is unavailable`, { cause });
    }
  }

  #open(slot: Slot): Promise<OpenedBackend> {
    if (!slot.opened) {
      const p = this.#openNow(slot.cfg);
      slot.opened = p;
      // A failed open is tried again on the next use.
      p.catch(() => {
        if (slot.opened === p) delete slot.opened;
      });
    }
    return slot.opened;
  }

  async #openNow(cfg: BackendConfig): Promise<OpenedBackend> {
    const { clock, log, factories } = this.deps;
    switch (cfg.kind) {
      case 'local': {
        const b = await openLocalBackend({ name: cfg.name, path: cfg.path, keyFile: cfg.keyFile, clock, allowInsecurePermissions: this.deps.config.devMode });
        return { static: b, health: () => b.health(), close: () => b.close() };
      }
      case 'vault':
        if (!factories?.vault) throw new BrokerError('internal', `backend kind vault is not available in this build`);
        return factories.vault(cfg, { clock, log: log.child({ backend: cfg.name }) });
      case 'aws-secrets-manager':
        if (!factories?.aws) throw new BrokerError('internal', `backend kind aws-secrets-manager is not available in this build`);
        return factories.aws(cfg, { clock, log: log.child({ backend: cfg.name }) });
      case 'postgres': {
        const onMisuse = this.deps.onCredentialMisuse;
        const b = openPostgresBackend(cfg, {
          clock,
          log: log.child({ backend: cfg.name }),
          adminUrl: (o) => this.#adminUrl(cfg, o),
          ...(onMisuse ? { onMisuse: (role: string, what: string) => onMisuse({ backend: cfg.name, id: role }, what) } : {}),
          peerLockHolder: (role: string) => this.#peerLockHolder(cfg.name, role),
        });
        return { dynamic: b, health: () => b.health(), close: () => b.close() };
      }
    }
  }

  /**
   * A role another postgres backend (`from`) found at its role-DDL key: when it is a lease role of one of
   * this daemon's other postgres backends (by prefix; on the same server, since it was found there), that
   * backend disables and reports it. Backends on one server share the key, so each must be able to clear it.
   */
  async #peerLockHolder(from: string, role: string): Promise<boolean> {
    for (const slot of this.#slots.values()) {
      if (slot.cfg.kind !== 'postgres' || slot.cfg.name === from || !leaseRoleName(slot.cfg.rolePrefix).test(role)) continue;
      const peer = (await this.#open(slot)).dynamic as PostgresBackend | undefined;
      return peer ? peer.disableLockHolder(role) : false;
    }
    return false;
  }

  /**
   * A postgres backend's admin URL, read from its static backend through the same path (breaker,
   * cache) as a configured secret. `fresh` (after an authentication failure) drops the cached read.
   */
  async #adminUrl(cfg: PostgresBackendConfig, opts?: { fresh?: boolean; pending?: boolean }): Promise<SecretValue> {
    if (opts?.pending) {
      // A rotation's pending admin URL (src/rotation/), read from the store, never cached: in AWS Secrets
      // Manager the version staged AWSPENDING (`#rotateAws` stages it there), elsewhere the sibling secret
      // `<name>.pending` (`#rotateAdmin` writes it).
      const slot = this.#slots.get(cfg.urlSecret.backend);
      if (!slot) throw new BrokerError('internal', `backend ${cfg.urlSecret.backend} is not configured`);
      return this.#guarded(slot, 'reading a pending admin URL', async () => {
        const b = await this.#open(slot);
        if (!b.static) throw new BrokerError('internal', `backend ${slot.cfg.name} holds no static secrets`);
        if (slot.cfg.kind === 'aws-secrets-manager') {
          return (await awsRotationOf(b.static, slot.cfg.name).readVersion(cfg.urlSecret.name, { stage: 'AWSPENDING' })).value;
        }
        return (await b.static.get(`${cfg.urlSecret.name}.pending`)).value;
      }, undefined, false);
    }
    const s: SecretConfig = { name: `backends.${cfg.name}.url_secret`, backend: cfg.urlSecret.backend, ref: cfg.urlSecret.name };
    if (opts?.fresh) this.invalidate(s.name);
    return (await this.#resolve(s)).value;
  }

  #changed(slot: Slot, state: BreakerState, previous: BreakerState): void {
    const log = this.deps.log;
    if (state === 'open') log.error({ backend: slot.cfg.name, previous }, 'backend circuit open: its requests fail at once until a probe succeeds');
    else log.info({ backend: slot.cfg.name, state, previous }, `backend circuit ${state.replace('_', '-')}`);
    this.onStateChange?.(slot.cfg.name, state);
    if (state === 'open') this.#scheduleProbe(slot);
  }

  /** While open, a health probe after each open period: its success closes the circuit without waiting for traffic. */
  #scheduleProbe(slot: Slot): void {
    if (slot.probe || this.#closed || !slot.breaker) return;
    const r = resilienceOf(slot.cfg);
    slot.probe = setTimeout(() => {
      delete slot.probe;
      if (this.#closed || slot.breaker?.state === 'closed') return;
      this.#guarded(slot, 'health probe', async () => (await this.#open(slot)).health()).catch(() => {
        if (slot.breaker?.state !== 'closed') this.#scheduleProbe(slot);
      });
    }, r.breakerOpenMs);
    slot.probe.unref();
  }
}

function resilienceOf(cfg: BackendConfig): BackendResilience {
  return cfg.kind === 'local' ? NO_RESILIENCE : cfg;
}

function resolved(s: SecretConfig, v: SecretVersion): ResolvedSecret {
  return { value: v.value, backend: s.backend, version: v.version, ...(v.versionId !== undefined ? { versionId: v.versionId } : {}) };
}
