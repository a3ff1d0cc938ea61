import { randomBytes } from 'node:crypto';
import type { CredentialHandle, DynamicCredentialBackend, IssuedCredential, LeaseBinding } from '../../src/backends/backend';
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
  readonly calls = { create: 0, renew: [] as Array<{ id: string; expiresAt: number; maxExpiresAt: number }>, revoke: [] as string[] };
  /** The next create rejects with this. */
  failCreate: BrokerError | undefined;
  /** The next renew rejects with this. */
  failRenew: BrokerError | undefined;
  /** Revocations fail while this is > 0 (each failure counts it down); Infinity fails until set to 0. */
  failRevokes = 0;
  /** The upstream's own cap on a credential's lifetime from its creation (like a Vault role's max_ttl). */
  upstreamMaxTtlMs = Infinity;
  /** What renew sets at most, from the time of the renewal (like a Vault role's ttl). */
  renewCapMs = Infinity;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
  ) {}

  async health(): Promise<void> {}
  async close(): Promise<void> {}

  async create(spec: FaultSpec, lease: LeaseBinding): Promise<IssuedCredential> {
    this.calls.create += 1;
    if (this.failCreate) {
      const err = this.failCreate;
      this.failCreate = undefined;
      throw err;
    }
    const now = this.clock.now();
    const id = `database/creds/${spec.role}/${randomBytes(8).toString('hex')}`;
    const user = `v-${spec.role}-${lease.leaseId.slice(-8)}`;
    const password = `pw-${randomBytes(16).toString('hex')}`;
    const expiresAt = Math.min(lease.expiresAt, now + this.upstreamMaxTtlMs);
    const handle: CredentialHandle = { backend: this.name, id, attributes: { role: spec.role } };
    this.minted.set(id, { handle, binding: lease, spec, user, password, createdAt: now, expiresAt, revoked: false });
    return {
      handle,
      credential: { kind: 'database', ...spec.connection, user, password: SecretValue.fromString(password) },
      expiresAt,
    };
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
