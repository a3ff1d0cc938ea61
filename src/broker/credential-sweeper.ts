import type { CredentialHandle, DynamicCredentialBackend } from '../backends/backend';
import type { EvidenceDraft, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';
import type { PendingCredential, Store } from '../store/store';
import { handleRef, type DynamicCredentialSource } from './dynamic-credentials';
import { LateEvidence } from './late-evidence';

export interface CredentialSweeperDeps {
  store: Pick<Store, 'listPendingCredentials' | 'deletePendingCredential' | 'ownedCredentials'>;
  source: DynamicCredentialSource;
  /** The configured backends that mint credentials for actions (by name); pending rows add theirs. */
  backends: readonly string[];
  clock: Clock;
  log: Logger;
  evidence?: EvidenceSink;
  /** How often a sweep runs after the first, at start (default 5 min). */
  intervalMs?: number;
  /**
   * How old a pending credential of this process must be before it counts as
   * an orphan (default 2 min): younger ones may be grants in flight.
   */
  graceMs?: number;
}

/** Pending rows read per backend and sweep: more wait for the next one. */
const PENDING_BATCH = 10_000;

/** What one sweep did, per backend (tests and logs). */
export interface SweepResult {
  backend: string;
  /** Ids revoked upstream as orphans. */
  revoked: string[];
  /** Orphans whose revocation failed: retried at the next sweep. */
  failed: string[];
  /** Pending rows removed because their credential is not upstream. */
  cleared: string[];
}

/**
 * The orphan sweeper: at start and every period, for each dynamic backend
 * that can list what it issued, revokes the credentials upstream that no
 * lease owns. Leases own their credentials while active or exhausted and,
 * once ended, until the revoker has revoked them (those are the revoker's).
 * Of the rest:
 * 1. one recorded as pending (named before it was created) is an orphan once
 *    older than the grace, so an in-flight grant is never raced; a pending row
 *    left by a previous process is one at once (it cannot be in flight);
 * 2. one not recorded at all (no lease, no pending row) is an orphan;
 * 3. a pending row whose credential is not upstream (never created, or gone)
 *    is removed, with the same grace.
 * Orphans are revoked (`revokeMany` when offered), logged by name and
 * recorded as `credential.revoked` with `by: "sweeper"`. A backend that is
 * down is logged and swept again next period; nothing here blocks start-up.
 * Backends without `plan` are not swept: their in-flight credentials are not
 * recorded before they exist, so one could not be told from an orphan.
 */
export class CredentialSweeper {
  /** Pending rows that existed before this process served anything: "backend\0id". */
  private inherited = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult[]> | undefined;
  private readonly late: LateEvidence | undefined;

  constructor(private readonly deps: CredentialSweeperDeps) {
    this.late = deps.evidence ? new LateEvidence({ sink: deps.evidence, clock: deps.clock }, 'credential.revoked', 'an orphan was revoked but its entry is missing') : undefined;
  }

  /** At shutdown: a last try to record the entries the evidence log refused earlier (LateEvidence.drain). */
  async drainLateEvidence(log: Logger): Promise<void> {
    await this.late?.drain(log);
  }

  /**
   * Notes the pending rows a previous process left (call before serving),
   * then sweeps now and every period in the background. Never throws: a
   * store that cannot be read is logged, and those rows wait for the grace.
   */
  async start(): Promise<void> {
    try {
      const left = await this.deps.store.listPendingCredentials(undefined, PENDING_BATCH);
      this.inherited = new Set(left.map((p) => key(p.handle.backend, p.handle.id)));
    } catch (err) {
      this.deps.log.warn({ err }, 'could not read the pending credentials a previous run left; the sweeper treats them with the grace');
    }
    this.timer = setInterval(() => void this.sweep(), this.deps.intervalMs ?? 5 * 60_000);
    this.timer.unref();
    void this.sweep();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep over every backend (a running one is joined, not repeated). Never rejects. */
  sweep(): Promise<SweepResult[]> {
    this.running ??= this.sweepAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepAll(): Promise<SweepResult[]> {
    const names = new Set(this.deps.backends);
    try {
      for (const p of await this.deps.store.listPendingCredentials(undefined, PENDING_BATCH)) names.add(p.handle.backend);
    } catch (err) {
      this.deps.log.warn({ err }, 'credential sweep: could not read pending credentials; retrying next period');
      return [];
    }
    const out: SweepResult[] = [];
    for (const name of [...names].sort()) {
      const backend = this.deps.source.byName(name);
      if (!backend?.listIssued || !backend.plan) continue;
      try {
        out.push(await this.sweepBackend(name, backend));
      } catch (err) {
        this.deps.log.warn({ err, backend: name }, 'credential sweep failed (backend unavailable?); retrying next period');
      }
    }
    return out;
  }

  private async sweepBackend(name: string, backend: DynamicCredentialBackend): Promise<SweepResult> {
    const { store, clock, log } = this.deps;
    // The order matters. A credential in the listing was recorded as pending before it was
    // created, so the pending rows read after the listing show it unless its lease has been
    // stored since (the row goes in that commit); ownership, read last, then shows the lease.
    // Reading pending rows first would take a grant that records and creates in between for an
    // unrecorded credential and revoke it under its agent.
    const listedAt = clock.now();
    const upstream = (await backend.listIssued!()).filter((h) => h.backend === name);
    const pending = new Map((await store.listPendingCredentials(name, PENDING_BATCH)).map((p) => [p.handle.id, p]));
    const owned = await store.ownedCredentials(name, upstream.map((h) => h.id), listedAt);
    const graceEnd = clock.now() - (this.deps.graceMs ?? 2 * 60_000);
    const settled = (p: PendingCredential): boolean => this.inherited.has(key(name, p.handle.id)) || p.createdAt <= graceEnd;

    const orphans: Array<{ handle: CredentialHandle; pending?: PendingCredential }> = [];
    const listed = new Set<string>();
    for (const h of upstream) {
      listed.add(h.id);
      if (owned.has(h.id)) continue;
      const p = pending.get(h.id);
      if (p && !settled(p)) continue; // a grant in flight: its lease may be stored any moment
      // A pending row's handle carries the attributes the backend planned (revocation may need them).
      orphans.push(p ? { handle: { ...h, ...p.handle }, pending: p } : { handle: h });
    }
    const result: SweepResult = { backend: name, revoked: [], failed: [], cleared: [] };
    // Pending rows whose credential is not upstream: never created, or already gone.
    for (const p of pending.values()) {
      if (listed.has(p.handle.id) || !settled(p)) continue;
      await store.deletePendingCredential(name, p.handle.id);
      this.inherited.delete(key(name, p.handle.id));
      result.cleared.push(p.handle.id);
    }
    if (result.cleared.length) log.info({ backend: name, count: result.cleared.length, ids: result.cleared.slice(0, 20) }, 'pending credentials that were never created (or are gone) removed');
    if (orphans.length === 0) return result;

    const gone = await this.revoke(backend, orphans.map((o) => o.handle));
    for (const o of orphans) {
      const id = o.handle.id;
      if (!gone.has(id)) {
        result.failed.push(id);
        continue;
      }
      result.revoked.push(id);
      log.warn({ credential: handleRef(o.handle), ...(o.pending ? { lease_id: o.pending.leaseId } : {}), recorded: o.pending ? 'pending' : 'no' }, 'orphan credential revoked upstream by the sweeper');
      await this.record(orphanRevokedDraft(o.handle, o.pending), log);
      if (o.pending) {
        await store.deletePendingCredential(name, id).catch((err: unknown) => log.warn({ err, credential: handleRef(o.handle) }, 'could not remove a pending credential row; the next sweep will'));
        this.inherited.delete(key(name, id));
      }
    }
    if (result.failed.length) log.warn({ backend: name, count: result.failed.length, ids: result.failed.slice(0, 20) }, 'orphan credentials could not be revoked; retrying next sweep');
    return result;
  }

  /** The ids gone upstream: one `revokeMany` round when offered, else one `revoke` each. */
  private async revoke(backend: DynamicCredentialBackend, handles: CredentialHandle[]): Promise<Set<string>> {
    if (backend.revokeMany) {
      try {
        return new Set(await backend.revokeMany(handles));
      } catch (err) {
        this.deps.log.warn({ err, backend: backend.name, count: handles.length }, 'could not revoke orphan credentials in a batch; retrying next sweep');
        return new Set();
      }
    }
    const gone = new Set<string>();
    for (const h of handles) {
      try {
        await backend.revoke(h);
        gone.add(h.id);
      } catch (err) {
        this.deps.log.warn({ err, credential: handleRef(h) }, 'could not revoke an orphan credential; retrying next sweep');
      }
    }
    return gone;
  }

  private async record(draft: EvidenceDraft, log: Logger): Promise<void> {
    await this.late?.appendOrKeep(draft, log, { credential: draft['credential'] }, 'could not record credential.revoked for an orphan; retrying in the background');
  }
}

const key = (backend: string, id: string): string => `${backend}\0${id}`;

/**
 * `credential.revoked` for an orphan: no lease owned it. `lease.id` names the
 * lease it was being created for when it was recorded as pending; `recorded`
 * says whether it was (`pending`) or not (`no`: created outside any grant
 * this broker recorded).
 */
export function orphanRevokedDraft(handle: CredentialHandle, pending: PendingCredential | undefined): EvidenceDraft {
  return {
    type: 'credential.revoked',
    ...(pending ? { lease: { id: pending.leaseId } } : {}),
    credential: handleRef(handle),
    lease_end: 'orphan',
    by: 'sweeper',
    recorded: pending ? 'pending' : 'no',
    attempts: 1,
  };
}
