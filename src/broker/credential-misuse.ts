import type { CredentialHandle } from '../backends/backend';
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

/**
 * A backend found a lease's credential working against the broker's own work upstream (a PostgreSQL
 * lease role holding or awaiting the broker's role-DDL lock). The backend has already taken the
 * credential's power away (for PostgreSQL: NOLOGIN, its sessions ended); here the lease ends too,
 * revoked by `broker` with the reason in its `lease.revoked` entry, and `broker.credential_misuse`
 * is raised against its agent. Once per lease: a lease that already ended raises nothing. Runs in
 * the background; a failure is logged (the credential stays disabled, the lease ends at expiry).
 */
export class CredentialMisuse {
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: CredentialMisuseDeps) {}

  report(handle: CredentialHandle, what: string): void {
    const p = this.handle(handle, what)
      .catch((err: unknown) => this.deps.log.error({ err, credential: { backend: handle.backend, id: handle.id } }, 'could not revoke the lease of a misused credential'))
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private async handle(handle: CredentialHandle, what: string): Promise<void> {
    const { store, leases, signals, log } = this.deps;
    const lease = await store.leaseOfCredential(handle.backend, handle.id);
    if (!lease || (lease.status !== 'active' && lease.status !== 'exhausted')) return;
    const reason = `its credential ${what}`;
    const ended = await leases.revokeByBroker([lease.id], reason, log);
    if (!ended.some((l) => l.id === lease.id)) return;
    log.warn({ lease_id: lease.id, agent: lease.agent, credential: { backend: handle.backend, id: handle.id } }, `lease revoked by the broker: ${reason}`);
    signals.raise(lease.agent, 'broker.credential_misuse', `lease ${lease.id} (${lease.action}): ${reason}`);
  }

  /** Resolves once every report so far is handled (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
