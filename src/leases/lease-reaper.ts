import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';
import type { LeaseStore } from '../store/store';
import type { LeaseRecord } from './lease';

/**
 * Expires leases whose time has passed. Runs once at start (so leases that
 * expired while the daemon was down are expired before it serves) and then on
 * an interval. Uses are refused past expiry regardless (the store's conditional
 * update checks the time), so the reaper is about state and cleanup, not safety.
 */
export class LeaseReaper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly deps: { store: Pick<LeaseStore, 'expireDue'>; clock: Clock; log: Logger; onExpired?: (l: LeaseRecord) => Promise<void> },
    private readonly intervalMs = 1000,
  ) {}

  async tick(): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await this.deps.store.expireDue(this.deps.clock.now(), 500);
      // Together, in expiry order: the evidence log makes appends of one turn one batch (one fsync for
      // the lot, where one at a time took one each, before the daemon could serve at start).
      const onExpired = this.deps.onExpired;
      if (onExpired) await Promise.all(expired.map((l) => onExpired(l)));
      total += expired.length;
      if (expired.length < 500) break;
    }
    if (total) this.deps.log.info({ count: total }, 'leases expired');
    return total;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick()
        .then(() => undefined, (err: unknown) => this.deps.log.warn({ err }, 'lease reaper failed; will retry'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
