import type { CredentialHandle } from '../backends/backend';
import type { LeaseRecord } from '../leases/lease';
import type { Logger } from '../lib/logger';
import type { Store } from '../store/store';
import type { BrokerSignals } from '../trust/broker-signals';
import type { LeaseService } from './lease-service';

export interface CredentialMisuseDeps {
  store: Pick<Store, 'leaseOfCredential'>;
  leases: Pick<LeaseService, 'revokeByBroker'>;
  signals: Pick<BrokerSignals, 'raise'>;
  log: Logger;
}

/** Credentials remembered as reported (each is penalised once); past this many the oldest is forgotten. */
const REMEMBERED = 10_000;

/**
 * A backend found a lease's credential working against the broker's own work upstream (a PostgreSQL
 * lease role holding or awaiting the broker's role-DDL lock). The backend has already taken the
 * credential's power away (for PostgreSQL: NOLOGIN, its sessions ended). Here:
 * - `broker.credential_misuse` is raised against the lease's agent, once per credential, whatever
 *   the lease's state: ending the lease first (RevokeLease, then take the lock while the role is
 *   dropped) does not dodge it;
 * - a lease still live ends, revoked by `broker` with the reason in its `lease.revoked` entry.
 * A credential no lease of this broker owns (another deployment's role of the same prefix on a
 * shared server, say) is logged and left alone. Runs in the background: a failure is logged, never
 * thrown at the backend. After stop(), reports are only logged (the daemon is closing).
 */
export class CredentialMisuse {
  private readonly running = new Set<Promise<unknown>>();
  private readonly reported = new Set<string>();
  private stopped = false;

  constructor(private readonly deps: CredentialMisuseDeps) {}

  report(handle: CredentialHandle, what: string): void {
    const key = `${handle.backend}\u0000${handle.id}`;
    if (this.reported.has(key)) return;
    if (this.stopped) {
      this.deps.log.warn({ credential: { backend: handle.backend, id: handle.id } }, `a credential ${what}, reported while the daemon stops: its lease is not revoked now`);
      return;
    }
    this.reported.add(key);
    if (this.reported.size > REMEMBERED) this.reported.delete(this.reported.values().next().value!);
    const p = this.handle(handle, what)
      .catch((err: unknown) => {
        try {
          this.deps.log.error({ err, credential: { backend: handle.backend, id: handle.id } }, 'could not revoke the lease of a misused credential');
        } catch {
          // Nothing left to tell.
        }
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private async handle(handle: CredentialHandle, what: string): Promise<void> {
    const { store, leases, signals, log } = this.deps;
    const credential = { backend: handle.backend, id: handle.id };
    const lease = await store.leaseOfCredential(handle.backend, handle.id);
    if (!lease) {
      log.warn({ credential }, `a credential ${what}, and no lease of this broker owns it (another deployment's, on a shared server?): nothing to revoke here`);
      return;
    }
    const reason = `its credential ${what}`;
    const raise = (): void => signals.raise(lease.agent, 'broker.credential_misuse', `lease ${lease.id} (${lease.action}): ${reason}`);
    if (!live(lease)) {
      log.warn({ lease_id: lease.id, agent: lease.agent, credential, status: lease.status }, `a lease that had already ended: ${reason}`);
      raise();
      return;
    }
    // Raised as soon as the lease has ended (or another path ended it first), not after its credential's drop,
    // which may wait on the backend.
    await leases.revokeByBroker([lease.id], reason, log, (ended) => {
      if (ended.some((l) => l.id === lease.id)) log.warn({ lease_id: lease.id, agent: lease.agent, credential }, `lease revoked by the broker: ${reason}`);
      raise();
    });
  }

  /** Resolves once every report so far is handled (tests). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** The daemon stops: later reports are logged only; resolves once those in hand are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.settled();
  }
}

const live = (l: LeaseRecord): boolean => l.status === 'active' || l.status === 'exhausted';
