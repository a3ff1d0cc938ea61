import { randomBytes } from 'node:crypto';
import type { CredentialHandle, DynamicCredentialBackend, IssuedCredential, LeaseBinding, PreparedSecret } from '../../src/backends/backend';
import type { DynamicCredentialSource } from '../../src/broker/dynamic-credentials';
import type { ActionConfig, VaultDynamicActionConfig } from '../../src/config/config-types';
import type { Clock } from '../../src/lib/clock';
import { BrokerError, unavailable } from '../../src/lib/errors';
import { SecretValue } from '../../src/lib/secret-value';

export type FaultSpec = Pick<VaultDynamicActionConfig, 'role' | 'connection'>;

export interface MintedCredential {
  handle: CredentialHandle;
  binding: LeaseBinding;
  spec: FaultSpec;
  user: string;
  /** The plain password, kept so tests can grep logs and evidence for it. */
  password: string;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

/**
 * A real DynamicCredentialBackend that keeps its credentials in memory, for
 * tests of the broker side of dynamic leases. It is a fault injector, not a
 * mock of anything: it mints, renews and revokes for real (in memory), records
 * every call, and fails on demand. Backend text in its errors
 * (`VENDOR-TEXT-...`) lets tests check that none reaches an agent.
 */
export class FaultCredentialBackend implements DynamicCredentialBackend<FaultSpec> {
  readonly type = 'dynamic' as const;
  readonly kind = 'vault' as const;
  readonly minted = new Map<string, MintedCredential>();
  readonly calls = {
    create: 0,
    /** The planned handle each create was given (undefined: none). */
    createdWith: [] as Array<CredentialHandle | undefined>,
    /** The prepared secret each create was given (undefined: none). */
    preparedWith: [] as Array<PreparedSecret | undefined>,
    renew: [] as Array<{ id: string; expiresAt: number; maxExpiresAt: number }>,
    revoke: [] as string[],
  };
  private holdAfterCreate: { reached(): void; released: Promise<void> } | undefined;
  /** What create reports as `IssuedCredential.details`, when set. */
  details: ((user: string, spec: FaultSpec) => Record<string, unknown>) | undefined;
  /** The next create rejects with this. */
  failCreate: BrokerError | undefined;
  /** The next renew rejects with this. */
  failRenew: BrokerError | undefined;
  /** Revocations fail while this is > 0 (each failure counts it down); Infinity fails until set to 0. */
  failRevokes = 0;
  /** The store is unreachable: health rejects (unavailable) while set. */
  down = false;
  readonly healthChecks = { count: 0 };
  /** The upstream's own cap on a credential's lifetime from its creation (like a Vault role's max_ttl). */
  upstreamMaxTtlMs = Infinity;
  /** What renew sets at most, from the time of the renewal (like a Vault role's ttl). */
  renewCapMs = Infinity;

  constructor(
    readonly name: string,
    protected readonly clock: Clock,
  ) {}

  async health(): Promise<void> {
    this.healthChecks.count += 1;
    if (this.down) throw unavailable('VENDOR-TEXT-connection refused');
  }
  async close(): Promise<void> {}

  async create(spec: FaultSpec, lease: LeaseBinding, planned?: CredentialHandle, prepared?: PreparedSecret): Promise<IssuedCredential> {
    this.calls.create += 1;
    this.calls.createdWith.push(planned);
    this.calls.preparedWith.push(prepared);
    if (prepared instanceof RecordedSecret) prepared.taken = true;
    if (this.failCreate) {
      const err = this.failCreate;
      this.failCreate = undefined;
      throw err;
    }
    const now = this.clock.now();
    const id = planned?.id ?? `database/creds/${spec.role}/${randomBytes(8).toString('hex')}`;
    const user = planned?.id ?? `v-${spec.role}-${lease.leaseId.slice(-8)}`;
    const password = `pw-${randomBytes(16).toString('hex')}`;
    const expiresAt = Math.min(lease.expiresAt, now + this.upstreamMaxTtlMs);
    const handle: CredentialHandle = planned ?? { backend: this.name, id, attributes: { role: spec.role } };
    this.minted.set(id, { handle, binding: lease, spec, user, password, createdAt: now, expiresAt, revoked: false });
    const hold = this.holdAfterCreate;
    if (hold) {
      // Created upstream, not yet returned: the broker is somewhere between create and storing the lease.
      this.holdAfterCreate = undefined;
      hold.reached();
      await hold.released;
    }
    return {
      handle,
      credential: { kind: 'database', ...spec.connection, user, password: SecretValue.fromString(password) },
      expiresAt,
      ...(this.details ? { details: this.details(user, spec) } : {}),
    };
  }

  /**
   * The next create mints its credential upstream and then waits until
   * `release()` (forever if never called): a broker stopped meanwhile has
   * created a credential and stored no lease. `reached` resolves once minted.
   */
  holdNextCreate(): { reached: Promise<void>; release(): void } {
    let reached!: () => void;
    let release!: () => void;
    const r = new Promise<void>((res) => (reached = res));
    const released = new Promise<void>((res) => (release = res));
    this.holdAfterCreate = { reached, released };
    return { reached: r, release };
  }

  async renew(handle: CredentialHandle, lease: Pick<LeaseBinding, 'leaseId' | 'expiresAt' | 'maxExpiresAt'>): Promise<{ expiresAt: number }> {
    this.calls.renew.push({ id: handle.id, expiresAt: lease.expiresAt, maxExpiresAt: lease.maxExpiresAt });
    if (this.failRenew) {
      const err = this.failRenew;
      this.failRenew = undefined;
      throw err;
    }
    const c = this.minted.get(handle.id);
    if (!c || c.revoked) throw new BrokerError('failed_precondition', `VENDOR-TEXT-lease ${handle.id} not found`);
    const now = this.clock.now();
    c.expiresAt = Math.min(lease.expiresAt, lease.maxExpiresAt, now + this.renewCapMs, c.createdAt + this.upstreamMaxTtlMs);
    return { expiresAt: c.expiresAt };
  }

  async revoke(handle: CredentialHandle): Promise<void> {
    this.calls.revoke.push(handle.id);
    if (this.failRevokes > 0) {
      this.failRevokes -= 1;
      throw unavailable(`VENDOR-TEXT-vault sealed (${handle.id})`);
    }
    const c = this.minted.get(handle.id);
    if (c) c.revoked = true;
  }

  /** The credential minted for a lease. */
  forLease(leaseId: string): MintedCredential | undefined {
    return [...this.minted.values()].find((c) => c.binding.leaseId === leaseId);
  }
}

/** A prepared secret that records what became of it: taken by create, or discarded before that. */
export class RecordedSecret implements PreparedSecret {
  taken = false;
  discarded = false;
  constructor(readonly backend: string) {}
  discard(): void {
    if (!this.taken) this.discarded = true;
  }
}

/** A source over the given backends: an action's `vault_dynamic.backend` picks one, its role and connection are the spec. */
export function faultSource(...backends: FaultCredentialBackend[]): DynamicCredentialSource {
  const byName = new Map(backends.map((b) => [b.name, b]));
  return {
    forAction: (action: ActionConfig) => {
      const vd = action.vaultDynamic;
      const backend = vd && byName.get(vd.backend);
      return backend && vd ? { backend, spec: { role: vd.role, connection: vd.connection } } : undefined;
    },
    byName: (name) => byName.get(name),
  };
}

/**
 * A fault backend with the optional capabilities of the contract, shaped like
 * the PostgreSQL backend: `plan` names the credential first (`sb_` + random),
 * `listIssued` lists every live credential with that prefix (whoever created
 * it), `revokeMany` revokes a batch and reports the ids that are gone.
 */
export class PlanningFaultBackend extends FaultCredentialBackend {
  readonly prefix = 'sb_';
  readonly batchCalls = { listIssued: 0, revokeMany: [] as string[][] };
  /** listIssued rejects while this is > 0 (counting down); Infinity until set to 0. */
  failListIssued = 0;
  /** Ids revokeMany leaves in place (reported as not gone) while set. */
  readonly stuck = new Set<string>();

  /** Every secret `prepare` made, in order. */
  readonly prepared: RecordedSecret[] = [];

  plan(_spec: FaultSpec, _lease: LeaseBinding): CredentialHandle {
    return { backend: this.name, id: `${this.prefix}${randomBytes(6).toString('hex')}`, attributes: { planned: 'yes' } };
  }

  prepare(_spec: FaultSpec): PreparedSecret {
    const p = new RecordedSecret(this.name);
    this.prepared.push(p);
    return p;
  }

  async listIssued(): Promise<CredentialHandle[]> {
    this.batchCalls.listIssued += 1;
    if (this.failListIssued > 0) {
      this.failListIssued -= 1;
      throw unavailable('VENDOR-TEXT-connection refused while listing roles');
    }
    return [...this.minted.values()].filter((c) => !c.revoked && c.handle.id.startsWith(this.prefix)).map((c) => ({ backend: this.name, id: c.handle.id }));
  }

  async revokeMany(handles: readonly CredentialHandle[]): Promise<string[]> {
    this.batchCalls.revokeMany.push(handles.map((h) => h.id));
    if (this.failRevokes > 0) {
      this.failRevokes -= 1;
      throw unavailable('VENDOR-TEXT-connection refused while dropping roles');
    }
    const gone: string[] = [];
    for (const h of handles) {
      if (this.stuck.has(h.id)) continue;
      const c = this.minted.get(h.id);
      if (c) c.revoked = true;
      gone.push(h.id);
    }
    return gone;
  }

  /** A credential upstream with the prefix that no broker grant recorded (made by hand, or by a lost process). */
  mintOutside(id = `${this.prefix}${randomBytes(6).toString('hex')}`): string {
    const now = this.clock.now();
    const binding: LeaseBinding = { leaseId: '', agent: '', action: '', resource: '', expiresAt: now + 3_600_000, maxExpiresAt: now + 3_600_000 };
    this.minted.set(id, {
      handle: { backend: this.name, id },
      binding,
      spec: { role: 'outside', connection: { host: '127.0.0.1', port: 5432, database: 'app' } },
      user: id,
      password: 'pw-outside',
      createdAt: now,
      expiresAt: now + 3_600_000,
      revoked: false,
    });
    return id;
  }

  /** Live credentials upstream (not revoked), by id. */
  live(): string[] {
    return [...this.minted.values()].filter((c) => !c.revoked).map((c) => c.handle.id);
  }
}
