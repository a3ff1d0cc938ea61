import type { EvidenceDraft, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Metrics } from '../metrics/metrics';
import type { LeaseRecord } from '../leases/lease';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';
import { countsAsFailure } from '../backends/circuit-breaker';
import { BrokerError } from '../lib/errors';
import type { Store } from '../store/store';
import { backendNotAvailable, handleRef, type DynamicCredentialSource } from './dynamic-credentials';
import { LateEvidence } from './late-evidence';

export interface CredentialRevokerDeps {
  store: Pick<Store, 'getLease' | 'markCredentialRevoked' | 'markCredentialRevokeFailed' | 'listCredentialRevocations' | 'deletePendingCredential' | 'statements'>;
  source: DynamicCredentialSource;
  clock: Clock;
  /** For the background loop; a request's own logger is used when a request ends a lease. */
  log: Logger;
  evidence?: EvidenceSink;
  /** How often the retry loop looks for owed revocations (default 1 s). */
  intervalMs?: number;
  /** Backoff between attempts on one credential: from min, doubling, up to max (defaults 1 s and 5 min). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Upstream revocations in flight at once from the retry loop (default 4). */
  concurrency?: number;
  /** How often, at most, the error about a backend that is no longer configured is logged, per backend (default 5 min). */
  missingBackendLogMs?: number;
  /** Counts failed revocations (src/metrics); default none. */
  metrics?: Pick<Metrics, 'revokeFailure'>;
  /** How often, at most, a backend a revocation found unreachable is probed while revocations are owed on it (default 2 s). */
  probeMs?: number;
}

/** Who ended the lease, for the `credential.revoked` entry: `agent:<name>`, `operator:<name>` or `broker`. */
export interface LeaseEnd {
  by: string;
}

/**
 * Whether a revocation is a trial call that passes an open breaker: a retry of a revoke_failed lease,
 * or one an agent or an operator asked for (not the broker's own expiry, reload or trust drop, which
 * the retry loop and its probe of a returned backend carry). An operator's revocation must not wait
 * for the breaker's open period while the credential still works.
 */
const isTrial = (lease: LeaseRecord, end: LeaseEnd): boolean => lease.status === 'revoke_failed' || end.by !== 'broker';

interface Backoff {
  /** The credential's backend (what a probe of a returned backend retries at once). */
  backend: string;
  attempts: number;
  nextAt: number;
  /** Who ended the lease, when this process saw it end. */
  by?: string;
}

/** Single revocations waiting for the next batch round on one backend (`trial`: an explicit retry, see RevokeOptions). */
interface Round {
  waiting: Array<{ lease: LeaseRecord; end: LeaseEnd; trial: boolean; resolve: (l: LeaseRecord) => void }>;
  running: boolean;
}

/** A credential minted for a lease that was never stored: only this process knows its handle. */
interface Unstored {
  lease: LeaseRecord;
  backoff: Backoff;
}

const MAX_UNSTORED = 10_000;
/** Owed revocations read per pass, earliest due first (the store orders by due time, so none waits behind failing ones). */
const BATCH = 200;
/**
 * A lease that just ended is revoked upstream by whoever ended it: the request
 * (agent or operator) itself, or the loop once the reaper has recorded its
 * expiry (`owe`). The loop leaves other freshly ended leases alone this long,
 * so entries keep their order and name who ended the lease; after a crash in
 * between it takes them over. revoke_failed leases are the loop's at once.
 */
const FRESH_GRACE_MS = 60_000;

/**
 * Revokes the dynamic credential of every lease that ends (invariant 4), after
 * the lease itself has ended (authority first). Success records
 * `credential.revoked`; failure leaves the lease `revoke_failed` and retries
 * with backoff, a few at a time, until it succeeds; the lease then returns to
 * revoked or expired. What is owed is read from the store, so a restarted
 * daemon resumes where the last one stopped.
 *
 * A backend that comes back after an outage is not left to the backoff (up to
 * 5 min, during which a revoked login would still work): a revocation that
 * fails as unreachable starts a cheap health probe of its backend, at most
 * every `probeMs` (2 s) and only while revocations are owed on it. A probe
 * goes through the backend's breaker like any call, so while the circuit is
 * open it costs nothing upstream and the store is not hammered. When a probe
 * that found the backend down is followed by one that reaches it, everything
 * owed on that backend is retried at once, in one batch round (revokeMany).
 * A probe is used rather than the breaker closing, because the breaker need not
 * have opened (fewer failures than its threshold) and the revoker works over
 * any credential source; the first probe must find the backend down, so a
 * backend that answers probes while its revocations fail for another reason
 * keeps its backoff.
 */
export class CredentialRevoker {
  private readonly backoff = new Map<string, Backoff>();
  /** Attempts under way, by lease id: a second caller waits for the first instead of revoking twice. */
  private readonly inFlight = new Map<string, Promise<LeaseRecord>>();
  private readonly unstored = new Map<string, Unstored>();
  private readonly rounds = new Map<string, Round>();
  /** Leases owed a revocation on a backend that is no longer configured, by backend; and when that was last logged. */
  private readonly orphaned = new Map<string, { leases: Set<string>; loggedAt: number | undefined }>();
  private readonly late: LateEvidence | undefined;
  /** Backends a revocation found unreachable, probed until one answers; `seenDown` once a probe found it down too. */
  private readonly unreachable = new Map<string, { probedAt: number; seenDown: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: CredentialRevokerDeps) {
    this.late = deps.evidence ? new LateEvidence({ sink: deps.evidence, clock: deps.clock }, 'credential.revoked', 'the credential was revoked but its entry is missing') : undefined;
  }

  /** At shutdown: a last try to record the entries the evidence log refused earlier (LateEvidence.drain). */
  async drainLateEvidence(log: Logger): Promise<void> {
    await this.late?.drain(log);
  }

  /**
   * Revokes the credential of a lease that has just ended. Never throws: a
   * failure is shown as `revoke_failed` and retried. Resolves with the lease as
   * stored afterwards. Asked for a lease that is revoke_failed already (a
   * RevokeLease on it), or by an agent or an operator (isTrial), it is a trial
   * call: it reaches the backend even while its breaker is open.
   */
  async revokeEnded(lease: LeaseRecord, end: LeaseEnd, log: Logger): Promise<LeaseRecord> {
    if (!lease.credential || lease.credentialRevokedAt !== undefined || lease.status === 'active' || lease.status === 'exhausted') return lease;
    return this.inFlight.get(lease.id) ?? this.attempt(lease, end, log, isTrial(lease, end));
  }

  /**
   * A lease that ended without a request to revoke its credential (the reaper
   * expired it, after recording that): the retry loop revokes it at its next
   * pass, with the others, a few at a time.
   */
  owe(lease: LeaseRecord, end: LeaseEnd): void {
    if (!lease.credential || this.backoff.has(lease.id)) return;
    this.backoff.set(lease.id, { backend: lease.credential.backend, attempts: 0, nextAt: 0, by: end.by });
  }

  /**
   * A lease whose issue failed after its credential was minted (its row or its
   * evidence could not be stored): revoke the credential now. A stored row that
   * ended is retried like any other; one that was never stored is retried from
   * memory.
   */
  async discard(lease: LeaseRecord, log: Logger): Promise<void> {
    const handle = lease.credential;
    if (!handle) return;
    const stored = await this.deps.store.getLease(lease.id).catch(() => undefined);
    if (stored?.credential && stored.status !== 'active' && stored.status !== 'exhausted') {
      await this.revokeEnded(stored, { by: 'broker' }, log);
      return;
    }
    // Not stored, or stored but still active (ending it failed): revoke upstream now regardless. An
    // active row is revoked again when it expires (revoke is idempotent).
    const u: Unstored = { lease, backoff: { backend: handle.backend, attempts: 0, nextAt: 0 } };
    if (!(await this.attemptUnstored(u, log)) && !stored) {
      if (this.unstored.size >= MAX_UNSTORED) {
        log.error({ lease_id: lease.id, credential: handleRef(handle) }, 'too many unstored credentials owed a revocation; this one is left to its upstream expiry');
        return;
      }
      this.unstored.set(lease.id, u);
    }
  }

  /**
   * One pass of the retry loop: the owed revocations that are due, earliest
   * due first, a few at a time. Each failure sets a later due time in the
   * store, so every owed revocation is attempted within its backoff delay
   * plus the time a pass of BATCH takes, whatever the others do.
   */
  tick(): Promise<void> {
    return this.pass(this.deps.clock.now());
  }

  /** A pass over the owed revocations due by `dueBy` (all of them at start-up). */
  private async pass(dueBy: number): Promise<void> {
    const now = this.deps.clock.now();
    const owed = await this.deps.store.listCredentialRevocations(BATCH, dueBy);
    const due: Array<() => Promise<unknown>> = [];
    const ready: Array<{ lease: LeaseRecord; end: LeaseEnd }> = [];
    for (const l of owed) {
      if (this.inFlight.has(l.id) || (this.backoff.get(l.id)?.nextAt ?? 0) > now || !this.loopMay(l, now)) continue;
      ready.push({ lease: l, end: { by: this.backoff.get(l.id)?.by ?? 'broker' } });
    }
    due.push(...this.jobsFor(ready));
    for (const u of this.unstored.values()) {
      if (u.backoff.nextAt > now) continue;
      due.push(this.unstoredJob(u));
    }
    // Probes first, so a returned backend is not found only after a long pass.
    due.unshift(...this.probes(now));
    await runPool(due, this.deps.concurrency ?? 4);
    this.reportOrphaned(this.deps.log);
  }

  /** Whether the loop may revoke this owed lease now: not a fresh one its own request is still revoking (FRESH_GRACE_MS). */
  private loopMay(l: LeaseRecord, now: number): boolean {
    return l.status === 'revoke_failed' || this.backoff.has(l.id) || l.updatedAt <= now - FRESH_GRACE_MS;
  }

  /** Several on a backend that revokes in batches: one round for them (revokeMany), the rest one by one. */
  private jobsFor(ready: ReadonlyArray<{ lease: LeaseRecord; end: LeaseEnd }>): Array<() => Promise<unknown>> {
    return this.byBatch(ready).map((group) =>
      group.length === 1 ? () => this.attempt(group[0]!.lease, group[0]!.end, this.deps.log) : () => Promise.all(this.attemptBatch(group, this.deps.log)),
    );
  }

  private unstoredJob(u: Unstored): () => Promise<void> {
    return async () => {
      if (await this.attemptUnstored(u, this.deps.log)) this.unstored.delete(u.lease.id);
    };
  }

  /** The probes due: each backend a revocation found unreachable, while revocations are owed on it, at most every `probeMs`. */
  private probes(now: number): Array<() => Promise<void>> {
    const out: Array<() => Promise<void>> = [];
    for (const [backend, u] of this.unreachable) {
      if (!this.owesOn(backend)) {
        this.unreachable.delete(backend);
        continue;
      }
      if (now - u.probedAt < (this.deps.probeMs ?? 2000)) continue;
      u.probedAt = now;
      out.push(() => this.probe(backend, u));
    }
    return out;
  }

  private owesOn(backend: string): boolean {
    for (const b of this.backoff.values()) if (b.backend === backend) return true;
    for (const u of this.unstored.values()) if (u.backoff.backend === backend) return true;
    return false;
  }

  /**
   * A cheap health call to a backend a revocation found unreachable. Still
   * unreachable: probed again later. Reached (or answering, if with a refusal)
   * after a probe found it down: every revocation owed on it is retried now.
   * Reached at the first probe: left to the backoff (it is up, so the failure was
   * not an outage, and a retry now could repeat every probe period).
   */
  private async probe(backend: string, u: { probedAt: number; seenDown: boolean }): Promise<void> {
    const b = this.deps.source.byName(backend);
    if (!b) {
      this.unreachable.delete(backend);
      return;
    }
    try {
      await b.health();
    } catch (err) {
      if (countsAsFailure(err)) {
        u.seenDown = true;
        this.deps.log.debug({ err, backend }, 'backend still unreachable; the revocations owed on it wait for it');
        return;
      }
    }
    if (this.unreachable.get(backend) === u) this.unreachable.delete(backend);
    if (u.seenDown) await this.retryOn(backend);
  }

  /** The backend is back: every revocation owed on it, whatever its backoff, in one round (revokeMany) where it has them. */
  private async retryOn(backend: string): Promise<void> {
    const now = this.deps.clock.now();
    const owed = await this.deps.store.listCredentialRevocations(BATCH, Number.MAX_SAFE_INTEGER);
    const ready = owed
      .filter((l) => l.credential?.backend === backend && !this.inFlight.has(l.id) && this.loopMay(l, now))
      .map((l) => ({ lease: l, end: { by: this.backoff.get(l.id)?.by ?? 'broker' } }));
    const unstored = [...this.unstored.values()].filter((u) => u.backoff.backend === backend);
    this.deps.log.info({ backend, owed: ready.length + unstored.length }, 'backend reachable again: retrying the revocations owed on it now');
    await runPool([...this.jobsFor(ready), ...unstored.map((u) => this.unstoredJob(u))], this.deps.concurrency ?? 4);
  }

  /** A revocation on a configured backend failed as unreachable: its backend is probed until it answers. */
  private noteUnreachable(backend: string, err: unknown): void {
    if (!countsAsFailure(err) || this.unreachable.has(backend)) return;
    this.unreachable.set(backend, { probedAt: this.deps.clock.now(), seenDown: false });
  }

  /**
   * A credential whose backend is no longer configured cannot be revoked
   * until the backend is configured again: it stays revoke_failed and owed.
   * Said at error, once per backend per period (not per lease or pass), with
   * how many leases wait on it.
   */
  private reportOrphaned(log: Logger): void {
    const now = this.deps.clock.now();
    const period = this.deps.missingBackendLogMs ?? 5 * 60_000;
    for (const [backend, o] of this.orphaned) {
      if (o.leases.size === 0) {
        this.orphaned.delete(backend);
        continue;
      }
      if (o.loggedAt !== undefined && now - o.loggedAt < period) continue;
      o.loggedAt = now;
      log.error(
        { backend, leases: o.leases.size, lease_ids: [...o.leases].slice(0, 10) },
        `credentials of ended leases cannot be revoked: their backend "${backend}" is no longer configured; they stay revoke_failed and are retried until it is configured again`,
      );
    }
  }

  start(): void {
    let first = true;
    const run = (): void => {
      if (this.running) return;
      // At start-up every owed revocation is due: the backoff of the daemon that stopped is not this one's.
      this.running = (first ? this.pass(Number.MAX_SAFE_INTEGER) : this.tick())
        .catch((err: unknown) => this.deps.log.warn({ err }, 'credential revocation retry failed; will retry'))
        .finally(() => (this.running = undefined));
      first = false;
    };
    this.timer = setInterval(run, this.deps.intervalMs ?? 1000);
    this.timer.unref();
    // At start-up too: a revocation owed by the daemon that stopped is resumed at once.
    run();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private nextDelay(attempts: number): number {
    const min = this.deps.minDelayMs ?? 1000;
    return Math.min(min * 2 ** Math.min(attempts - 1, 30), this.deps.maxDelayMs ?? 5 * 60_000);
  }

  /**
   * Revokes the credentials of many leases that have just ended (an
   * operator's RevokeLeases; a trust drop): in one round per backend that
   * offers `revokeMany` (of at most `batch` credentials, default 200), else
   * one by one. Never throws; each
   * lease comes back as stored afterwards (revoke_failed where its
   * revocation failed, retried like any other).
   */
  async revokeEndedMany(ended: ReadonlyArray<{ lease: LeaseRecord; end: LeaseEnd }>, log: Logger, opts: { batch?: number } = {}): Promise<LeaseRecord[]> {
    const out = new Map<string, Promise<LeaseRecord>>();
    const fresh: Array<{ lease: LeaseRecord; end: LeaseEnd }> = [];
    for (const item of ended) {
      const l = item.lease;
      if (!l.credential || l.credentialRevokedAt !== undefined || l.status === 'active' || l.status === 'exhausted') continue;
      const running = this.inFlight.get(l.id);
      if (running) out.set(l.id, running);
      else fresh.push(item);
    }
    // Those revoke_failed already (an operator's RevokeLeases retrying them), and any an operator asked for, are a trial call past an open breaker.
    for (const g of this.byBatch(fresh, opts.batch)) {
      const trial = g.some((i) => isTrial(i.lease, i.end));
      if (g.length === 1) out.set(g[0]!.lease.id, this.attempt(g[0]!.lease, g[0]!.end, log, trial));
      else this.attemptBatch(g, log, undefined, trial).forEach((p, i) => out.set(g[i]!.lease.id, p));
    }
    return Promise.all(ended.map(({ lease: l }) => out.get(l.id) ?? l));
  }

  /**
   * Groups owed revocations: those of one backend that offers `revokeMany`
   * go together (up to BATCH), every other one alone.
   */
  private byBatch(items: ReadonlyArray<{ lease: LeaseRecord; end: LeaseEnd }>, batch = BATCH): Array<Array<{ lease: LeaseRecord; end: LeaseEnd }>> {
    const groups: Array<Array<{ lease: LeaseRecord; end: LeaseEnd }>> = [];
    const open = new Map<string, Array<{ lease: LeaseRecord; end: LeaseEnd }>>();
    for (const item of items) {
      const name = item.lease.credential!.backend;
      if (typeof this.deps.source.byName(name)?.revokeMany !== 'function') {
        groups.push([item]);
        continue;
      }
      let g = open.get(name);
      if (!g || g.length >= batch) {
        g = [];
        open.set(name, g);
        groups.push(g);
      }
      g.push(item);
    }
    return groups;
  }

  /**
   * One `revokeMany` round for leases whose credentials share a backend. Per
   * id: gone ones are recorded revoked (with `credential.revoked`), the rest
   * fail as a single revocation would (revoke_failed, retried with backoff).
   */
  private attemptBatch(group: ReadonlyArray<{ lease: LeaseRecord; end: LeaseEnd }>, log: Logger, upstream?: (round: Promise<unknown>) => void, trial = false): Array<Promise<LeaseRecord>> {
    const backend = this.deps.source.byName(group[0]!.lease.credential!.backend);
    const round = (async (): Promise<{ gone: Set<string>; err?: unknown }> => {
      try {
        if (!backend?.revokeMany) throw backendNotAvailable(group[0]!.lease.credential!.backend);
        const gone = await backend.revokeMany(group.map((g) => g.lease.credential!), trial ? { trial } : undefined);
        return { gone: new Set(gone) };
      } catch (err) {
        return { gone: new Set(), err };
      }
    })();
    upstream?.(round);
    // The ones gone upstream are recorded together: one commit for all their rows and entries.
    const settled = round.then(async ({ gone, err }) => {
      const ok = group.filter((g) => gone.has(g.lease.credential!.id));
      return { gone, err, recorded: ok.length > 0 ? await this.succeededMany(ok, log) : new Map<string, LeaseRecord>() };
    });
    const each = group.map(({ lease, end }) => {
      const p = settled
        .then(({ gone, err, recorded }) =>
          gone.has(lease.credential!.id)
            ? (recorded.get(lease.id) ?? lease)
            : this.failed(lease, end, err ?? new BrokerError('unavailable', `backend ${lease.credential!.backend} did not revoke this credential in a batch`), backend !== undefined, log),
        )
        .finally(() => this.inFlight.delete(lease.id));
      this.inFlight.set(lease.id, p);
      return p;
    });
    log.debug({ backend: group[0]!.lease.credential!.backend, count: group.length }, 'revoking credentials in one batch');
    return each;
  }

  private attempt(lease: LeaseRecord, end: LeaseEnd, log: Logger, trial = false): Promise<LeaseRecord> {
    const name = lease.credential!.backend;
    if (typeof this.deps.source.byName(name)?.revokeMany === 'function') return this.coalesced(name, lease, end, log, trial);
    const p = this.attemptOnce(lease, end, log, trial).finally(() => this.inFlight.delete(lease.id));
    this.inFlight.set(lease.id, p);
    return p;
  }

  /**
   * A single revocation on a backend that revokes in batches joins the next
   * round for that backend: the first goes at once, and those that arrive
   * while a round is under way go together in the one after it (group
   * commit, for DDL). Each caller still waits for its own credential, so a
   * RevokeLease answers only once its credential is gone.
   */
  private coalesced(name: string, lease: LeaseRecord, end: LeaseEnd, log: Logger, trial: boolean): Promise<LeaseRecord> {
    let q = this.rounds.get(name);
    if (!q) this.rounds.set(name, (q = { waiting: [], running: false }));
    const p = new Promise<LeaseRecord>((resolve) => q.waiting.push({ lease, end, trial, resolve }));
    this.inFlight.set(lease.id, p);
    if (!q.running) void this.drain(name, q, log);
    return p;
  }

  private async drain(name: string, q: Round, log: Logger): Promise<void> {
    q.running = true;
    try {
      while (q.waiting.length > 0) {
        const group = q.waiting.splice(0, BATCH);
        let round: Promise<unknown> = Promise.resolve();
        const each = this.attemptBatch(group, log, (r) => (round = r), group.some((g) => g.trial));
        // Never left waiting: an attempt that rejects (none should: a store fault while recording) answers with
        // the lease as it was, is logged, and stays owed to the retry loop (invariant 4: never dropped silently).
        each.forEach((p, i) => {
          const { lease, end, resolve } = group[i]!;
          void p.then(resolve, (err: unknown) => {
            log.error({ err, lease_id: lease.id, credential: handleRef(lease.credential!) }, 'a credential revocation attempt failed unexpectedly; the retry loop tries it again');
            this.owe(lease, end);
            resolve(lease);
          });
        });
        // The next round starts when this one's upstream work is done, not its bookkeeping.
        await round;
      }
    } finally {
      q.running = false;
      if (q.waiting.length === 0) this.rounds.delete(name);
      else void this.drain(name, q, log);
    }
  }

  private async attemptOnce(lease: LeaseRecord, end: LeaseEnd, log: Logger, trial: boolean): Promise<LeaseRecord> {
    const handle = lease.credential!;
    const backend = this.deps.source.byName(handle.backend);
    try {
      if (!backend) throw backendNotAvailable(handle.backend);
      await backend.revoke(handle, trial ? { trial } : undefined);
    } catch (err) {
      return this.failed(lease, end, err, backend !== undefined, log);
    }
    return this.succeeded(lease, end, log);
  }

  /** An upstream revocation failed: revoke_failed, with the next attempt's due time. */
  private async failed(lease: LeaseRecord, end: LeaseEnd, err: unknown, configured: boolean, log: Logger): Promise<LeaseRecord> {
    const handle = lease.credential!;
    this.deps.metrics?.revokeFailure(handle.backend);
    const b = this.backoff.get(lease.id) ?? { backend: handle.backend, attempts: 0, nextAt: 0 };
    b.attempts += 1;
    b.nextAt = this.deps.clock.now() + this.nextDelay(b.attempts);
    b.by = end.by;
    this.backoff.set(lease.id, b);
    const fields = { err, lease_id: lease.id, credential: handleRef(handle), attempts: b.attempts, retry_at: b.nextAt };
    if (configured) {
      log.warn(fields, 'could not revoke the credential of an ended lease; it is revoke_failed and will be retried');
      this.noteUnreachable(handle.backend, err);
    } else {
      // Said at error once per backend per period (reportOrphaned), not once per lease and attempt.
      log.debug(fields, 'could not revoke the credential of an ended lease: its backend is no longer configured');
      this.orphanedOn(handle.backend).leases.add(lease.id);
    }
    const failed = await this.deps.store.markCredentialRevokeFailed(lease.id, this.deps.clock.now(), b.nextAt).catch((e: unknown) => {
      log.error({ err: e, lease_id: lease.id }, 'could not mark the lease revoke_failed; the revocation is still retried');
      return undefined;
    });
    return failed ?? lease;
  }

  /** The credential is gone upstream: recorded revoked, with its `credential.revoked`. */
  private async succeeded(lease: LeaseRecord, end: LeaseEnd, log: Logger): Promise<LeaseRecord> {
    return (await this.succeededMany([{ lease, end }], log)).get(lease.id) ?? lease;
  }

  /**
   * Credentials gone upstream: each lease recorded revoked, with its
   * `credential.revoked` entry in the same commit (one commit for the whole
   * group). If the log refuses, the rows are marked alone and the entries
   * kept and retried; a row the store cannot mark stays owed and is revoked
   * again later (revoke is idempotent). Returns the leases recorded, by id.
   */
  private async succeededMany(items: ReadonlyArray<{ lease: LeaseRecord; end: LeaseEnd }>, log: Logger): Promise<Map<string, LeaseRecord>> {
    const info = new Map<string, { end: LeaseEnd; attempts: number }>();
    for (const { lease, end } of items) {
      info.set(lease.id, { end, attempts: (this.backoff.get(lease.id)?.attempts ?? 0) + 1 });
      this.backoff.delete(lease.id);
      this.orphaned.get(lease.credential!.backend)?.leases.delete(lease.id);
    }
    const draft = (d: LeaseRecord): EvidenceDraft => credentialRevokedDraft(d, d.status, info.get(d.id)!.end.by, info.get(d.id)!.attempts);
    const now = this.deps.clock.now();
    const statements = this.deps.store.statements;
    let done: LeaseRecord[] | undefined;
    if (statements && this.deps.evidence?.appendWith) {
      try {
        const r = await this.deps.evidence.appendWith(
          () => {
            const out = items.map(({ lease }) => statements.markCredentialRevoked(lease.id, now)).filter((d): d is LeaseRecord => d !== undefined);
            return out.length > 0 ? out : undefined;
          },
          (out) => out.map(draft),
        );
        done = r?.value ?? [];
      } catch (err) {
        log.warn({ err, count: items.length }, 'could not record revoked credentials with their entries in one commit; recording them apart');
      }
    }
    if (done === undefined) {
      done = [];
      for (const { lease } of items) {
        const d = await this.deps.store.markCredentialRevoked(lease.id, this.deps.clock.now()).catch((e: unknown) => {
          // Revoked upstream but not recorded: it stays owed and is revoked again (idempotent) later.
          log.error({ err: e, lease_id: lease.id }, 'the credential was revoked but the store could not record it; it will be revoked again');
          return undefined;
        });
        if (!d) continue;
        done.push(d);
        await this.record(draft(d), log);
      }
    }
    for (const d of done) log.info({ lease_id: d.id, credential: handleRef(d.credential!), attempts: info.get(d.id)!.attempts }, 'credential revoked upstream');
    return new Map(done.map((d) => [d.id, d]));
  }

  private orphanedOn(backend: string): { leases: Set<string>; loggedAt: number | undefined } {
    let o = this.orphaned.get(backend);
    if (!o) this.orphaned.set(backend, (o = { leases: new Set(), loggedAt: undefined }));
    return o;
  }

  /** Resolves true once revoked upstream (and recorded). */
  private async attemptUnstored(u: Unstored, log: Logger): Promise<boolean> {
    const handle = u.lease.credential!;
    try {
      const backend = this.deps.source.byName(handle.backend);
      if (!backend) throw backendNotAvailable(handle.backend);
      await backend.revoke(handle);
    } catch (err) {
      if (this.deps.source.byName(handle.backend)) this.noteUnreachable(handle.backend, err);
      u.backoff.attempts += 1;
      u.backoff.nextAt = this.deps.clock.now() + this.nextDelay(u.backoff.attempts);
      log.error({ err, lease_id: u.lease.id, credential: handleRef(handle), attempts: u.backoff.attempts }, 'could not revoke the credential of a lease that was not issued; retrying in the background');
      return false;
    }
    log.info({ lease_id: u.lease.id, credential: handleRef(handle) }, 'credential of a lease that was not issued revoked upstream');
    // Gone upstream: no longer pending (if it was recorded before it was created). The sweeper would find it gone otherwise.
    await this.deps.store.deletePendingCredential(handle.backend, handle.id).catch((err: unknown) => log.warn({ err, credential: handleRef(handle) }, 'could not remove the pending credential row; the sweeper will'));
    await this.record(credentialRevokedDraft(u.lease, 'revoked', 'broker', u.backoff.attempts + 1), log);
    return true;
  }

  private async record(draft: EvidenceDraft, log: Logger): Promise<void> {
    await this.late?.appendOrKeep(draft, log, { lease: draft.lease, type: draft.type }, 'could not record credential.revoked; retrying in the background');
  }
}

/** `credential.revoked`: which lease's credential, from which backend (handle id, never the secret), why and by whom. */
export function credentialRevokedDraft(l: LeaseRecord, leaseEnd: string, by: string, attempts: number): EvidenceDraft {
  return {
    type: 'credential.revoked',
    agent: l.agent,
    action: l.action,
    resource: l.resource,
    lease: { id: l.id },
    credential: handleRef(l.credential!),
    lease_end: leaseEnd,
    by,
    attempts,
  };
}

/** Runs jobs `n` at a time. */
async function runPool(jobs: Array<() => Promise<unknown>>, n: number): Promise<void> {
  const workers = Array.from({ length: Math.min(n, jobs.length) }, async () => {
    for (let job = jobs.shift(); job; job = jobs.shift()) await job();
  });
  await Promise.all(workers);
}
