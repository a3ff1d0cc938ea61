import type { EvidenceDraft, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';

const MIN_DELAY_MS = 200;
const MAX_DELAY_MS = 5_000;
/** Drafts still unrecorded after this long, or beyond this many, are given up (and logged). */
const MAX_AGE_MS = 10 * 60_000;
const MAX_PENDING = 10_000;

/**
 * Keeps evidence the log refused (disk full, I/O error) for an effect that has
 * already happened (a call was sent, a lease was revoked or expired) and
 * appends it once the log takes writes again, so a running broker recovers
 * without a restart. Entries recorded this way say `recorded_late: true`.
 * Bounded in count and age; what is given up is logged at error.
 */
export class LateEvidence {
  private readonly pending: Array<{ draft: EvidenceDraft; since: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  private retrying: Promise<void> | undefined;
  /** Drained at shutdown: nothing is kept for later any more. */
  private drained = false;
  private delayMs = MIN_DELAY_MS;

  constructor(
    private readonly deps: { sink: EvidenceSink; clock: Clock },
    /** What is kept, for log lines, e.g. "invoke.result". */
    private readonly what: string,
    private readonly onGiveUp: string,
  ) {}

  get size(): number {
    return this.pending.length;
  }

  /**
   * Appends `draft` now; when the log refuses it, says so at error (with
   * `fields`) and keeps it to retry. Never rejects: what it records has
   * already happened.
   */
  async appendOrKeep(draft: EvidenceDraft, log: Logger, fields: Record<string, unknown>, message: string): Promise<void> {
    try {
      await this.deps.sink.append([draft]);
    } catch (err) {
      log.error({ err, ...fields }, message);
      this.push(draft, log);
    }
  }

  push(draft: EvidenceDraft, log: Logger): void {
    if (this.drained) {
      // After the last try at shutdown no retry would ever run: say what is lost.
      log.error({ type: draft.type, lease: draft.lease }, `could not record a ${this.what} entry while stopping; ${this.onGiveUp}`);
      return;
    }
    if (this.pending.length >= MAX_PENDING) {
      const dropped = this.pending.shift()!;
      log.error({ type: dropped.draft.type, lease: dropped.draft.lease }, `too many unrecorded ${this.what} entries; ${this.onGiveUp}`);
    }
    // The entry's time will be when it is finally recorded, not when the effect happened: say so.
    this.pending.push({ draft: { ...draft, recorded_late: true }, since: this.deps.clock.now() });
    this.schedule(log);
  }

  /**
   * At shutdown: one last append of everything kept, so what the log takes
   * again is not lost with the process. What it still refuses is logged at
   * error, entry by entry (with `onGiveUp`). Stops the retry timer.
   */
  async drain(log: Logger): Promise<void> {
    this.drained = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // A retry under way puts back what the log refused again: wait for it.
    await this.retrying;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    try {
      await this.deps.sink.append(batch.map((u) => u.draft));
      log.warn({ count: batch.length }, `recorded ${this.what} entries the evidence log refused earlier, before stopping`);
    } catch (err) {
      for (const u of batch) log.error({ err, type: u.draft.type, lease: u.draft.lease }, `could not record a ${this.what} entry before stopping; ${this.onGiveUp}`);
    }
  }

  private schedule(log: Logger): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retrying = this.retryNow(log).finally(() => (this.retrying = undefined));
    }, this.delayMs);
    this.timer.unref();
  }

  private async retryNow(log: Logger): Promise<void> {
    const now = this.deps.clock.now();
    const batch = this.pending.splice(0).filter((u) => {
      if (now - u.since <= MAX_AGE_MS) return true;
      log.error({ type: u.draft.type, lease: u.draft.lease }, `gave up recording a ${this.what} entry; ${this.onGiveUp}`);
      return false;
    });
    if (batch.length === 0) return;
    try {
      await this.deps.sink.append(batch.map((u) => u.draft));
      this.delayMs = MIN_DELAY_MS;
      log.warn({ count: batch.length }, `recorded ${this.what} entries the evidence log refused earlier`);
    } catch {
      this.pending.unshift(...batch);
      this.delayMs = Math.min(this.delayMs * 2, MAX_DELAY_MS);
    }
    if (this.pending.length > 0) this.schedule(log);
  }
}
