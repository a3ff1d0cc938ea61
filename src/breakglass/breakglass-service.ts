import type { BrokerConfig, OperatorConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import { checkResource } from '../broker/request-validation';
import type { Clock } from '../lib/clock';
import { BrokerError, failedPrecondition, invalidArgument, notFound, permissionDenied, resourceExhausted } from '../lib/errors';
import type { IdSource } from '../lib/ids';
import type { Logger } from '../lib/logger';
import type { OverrideFilter, OverrideRecord, OverrideState, OverrideStatements, OverrideStore } from './breakglass-store';
import { breakglassDraft, type OverrideEvent, type OverrideGate } from './override-gate';
import { KeyedMutex } from '../lib/keyed-mutex';

/** An override as the API shows it: the record, its state now, the agent's owner, time left. */
export interface OverrideView {
  record: OverrideRecord;
  /** The state now: an open override past its expiry is expired even before the sweep records it. */
  state: OverrideState;
  owner?: string;
  msLeft: number;
}

export interface BreakGlassServiceDeps {
  config: Pick<BrokerConfig, 'agents' | 'actions'>;
  store: OverrideStore;
  clock: Clock;
  ids: Pick<IdSource, 'randomPoolBytes'>;
  /** Every step commits with its `breakglass` entry; without a log that shares the store's transactions, break-glass is off. */
  evidence: EvidenceSink;
  log: Logger;
  /** How often expired overrides are recorded (default 1 s). */
  intervalMs?: number;
  /**
   * Revokes leases by id (the lease service's operator revocation), for the
   * leases granted under an override an operator revokes. Absent: they fail
   * their next re-check instead.
   */
  revokeLeases?: (leaseIds: readonly string[], reason: string, by: string, log: Logger) => Promise<number>;
}

/** Default TTL (an operator may ask for less or more) and the hard cap. */
export const DEFAULT_OVERRIDE_TTL_MS = 15 * 60_000;
export const MAX_OVERRIDE_TTL_MS = 24 * 3_600_000;
/** Open (pending or active) overrides one agent may have at once. */
export const MAX_OPEN_OVERRIDES_PER_AGENT = 20;
const MAX_REASON = 500;
const MAX_NOTE = 2000;
const MAX_LIST = 500;
const ID = /^bg_[A-Za-z0-9_-]{24}$/;
const CONFIRMERS = Object.freeze(['admin', 'approver']);
const REVIEWERS = Object.freeze(['approver', 'auditor']);

const iso = (ms: number): string => new Date(ms).toISOString();
const isOpen = (s: OverrideState): boolean => s === 'pending' || s === 'active';

/** The state of `o` at `now`. */
export function overrideState(o: OverrideRecord, now: number): OverrideState {
  return isOpen(o.state) && o.expiresAt <= now ? 'expired' : o.state;
}

/**
 * Break-glass: a recorded way for operators to grant what policy would not,
 * for a short time, with four eyes. The life of an override, in order:
 *   1. requested (BreakGlass, role admin): a configured agent and action, an
 *      optional resource, a reason, a TTL of at most 24 h; it is PENDING and
 *      lapses unconfirmed after its TTL;
 *   2. confirmed (ConfirmBreakGlass) by a second operator with role admin or
 *      approver who is neither the requester nor the agent's owner (a refused
 *      attempt is recorded too); it is ACTIVE until now + TTL;
 *   3. used: while active and unexpired, the agent's RequestLease for the
 *      action (and resource) is granted under it by the decision step, which
 *      bypasses policy only (`applicable`);
 *   4. ended: revoked by an admin (the leases granted under it are revoked
 *      at once), expired, or ended by the broker when the agent drops to
 *      `quarantined`; a lease granted under it that is still live fails its
 *      next re-check, and a grant decided under it but not yet stored is not
 *      granted;
 *   5. reviewed (ReviewBreakGlass): until someone other than its requester and
 *      confirmer marks it reviewed with a note, `approvals review` lists it.
 * Every step is a `breakglass` entry committed with the change it records.
 */
export class BreakGlassService implements OverrideGate {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: BreakGlassServiceDeps) {}

  // ------------------------------------------------------------------ operators

  /** 1. A pending override (role admin, checked by the gate). */
  async request(operator: OperatorConfig, input: { agent: string; action: string; resource: string; reason: string; ttlSeconds: number; hasParams: boolean }, log: Logger): Promise<{ view: OverrideView; evidence?: EvidenceRef }> {
    if (!input.agent) throw invalidArgument('agent', 'required: a configured agent name');
    if (!Object.hasOwn(this.deps.config.agents, input.agent)) throw invalidArgument('agent', `"${input.agent.slice(0, 64)}" is not a configured agent`);
    if (!input.action) throw invalidArgument('action', 'required: a configured action name');
    if (!Object.hasOwn(this.deps.config.actions, input.action)) throw invalidArgument('action', `"${input.action.slice(0, 64)}" is not a configured action`);
    const resource = input.resource ? checkResource(input.resource) : '';
    const reason = checkText('reason', input.reason, MAX_REASON, 'required: say why, for the evidence log');
    if (input.hasParams) throw invalidArgument('params', 'empty: an override covers the action (and resource); the agent\'s own RequestLease supplies the params');
    const ttlMs = input.ttlSeconds > 0 ? input.ttlSeconds * 1000 : DEFAULT_OVERRIDE_TTL_MS;
    if (ttlMs > MAX_OVERRIDE_TTL_MS) throw invalidArgument('ttl_seconds', `at most ${MAX_OVERRIDE_TTL_MS / 1000} (24h)`);
    const now = this.deps.clock.now();
    const record: OverrideRecord = {
      id: `bg_${this.deps.ids.randomPoolBytes(18).toString('base64url')}`,
      agent: input.agent,
      action: input.action,
      resource,
      reason,
      ttlMs,
      state: 'pending',
      requestedBy: operator.name,
      requestedAt: now,
      expiresAt: now + ttlMs,
      version: 1,
      updatedAt: now,
    };
    // The bound is checked in the insert's transaction: concurrent requests cannot pass it together.
    const done = await this.commit((s) => (s.countOpen(record.agent, now) < MAX_OPEN_OVERRIDES_PER_AGENT ? s.insert(record) : undefined), (o) => [breakglassDraft(o, 'requested', { reason })]);
    if (!done) throw resourceExhausted(`too many open break-glass overrides for ${input.agent} (at most ${MAX_OPEN_OVERRIDES_PER_AGENT}); revoke some first`);
    log.warn({ override_id: record.id, agent: record.agent, action: record.action, resource, by: operator.name, expires_at: iso(record.expiresAt) }, 'break-glass requested');
    this.ensureTimer();
    return { view: this.view(done.value), ...(done.ref ? { evidence: done.ref } : {}) };
  }

  /** 2. The second operator's confirmation: four eyes, refused attempts recorded. */
  async confirm(operator: OperatorConfig, id: string, note: string, log: Logger): Promise<{ view: OverrideView; evidence?: EvidenceRef }> {
    const o = await this.find(id);
    const why = note ? checkText('note', note, MAX_NOTE) : '';
    if (!operator.roles.some((r) => CONFIRMERS.includes(r))) throw permissionDenied('confirming break-glass requires the operator role "admin" or "approver"');
    const owner = this.deps.config.agents[o.agent]?.owner;
    const conflict =
      operator.name === o.requestedBy
        ? `${operator.name} asked for this override and may not confirm it (four eyes): another admin or approver must`
        : operator.name === owner
          ? `${operator.name} owns the agent ${o.agent} and may not confirm an override for it (four eyes): another admin or approver must`
          : undefined;
    if (conflict) {
      // A refused confirmation is a step too: the log shows who tried.
      await this.deps.evidence.append([breakglassDraft(o, 'refused', { by: operator.name, why: operator.name === o.requestedBy ? 'requester' : 'owner' })]);
      log.warn({ override_id: id, by: operator.name }, 'break-glass confirmation refused (four eyes)');
      throw permissionDenied(conflict);
    }
    const now = this.deps.clock.now();
    const done = await this.commit(
      (s) => {
        const cur = s.read(id);
        if (!cur) throw notFound('break-glass override');
        const state = overrideState(cur, now);
        if (state !== 'pending') throw failedPrecondition(state === 'active' ? 'the override is already confirmed' : `the override is ${state}; ask for a new one`);
        return s.update({ ...cur, state: 'active', confirmedBy: operator.name, confirmedAt: now, expiresAt: now + cur.ttlMs }, now);
      },
      (u) => [breakglassDraft(u, 'confirmed', why ? { note: why } : {})],
    );
    if (!done) throw new BrokerError('internal', 'break-glass confirmation was not stored');
    log.warn({ override_id: id, agent: o.agent, action: o.action, confirmed_by: operator.name, expires_at: iso(done.value.expiresAt) }, 'break-glass confirmed: policy is bypassed for this agent and action');
    return { view: this.view(done.value), ...(done.ref ? { evidence: done.ref } : {}) };
  }

  /**
   * 4. An admin ends a pending or active override; the leases granted under
   * it are revoked at once (their dynamic credentials dropped upstream), and
   * any that escaped fail their next re-check.
   */
  async revoke(operator: OperatorConfig, id: string, reason: string, log: Logger): Promise<{ view: OverrideView; evidence?: EvidenceRef }> {
    await this.find(id);
    const why = reason ? checkText('reason', reason, MAX_REASON) : 'revoked';
    const done = await this.end(id, 'revoked', operator.name, why, 'revoked');
    if (!done) {
      const cur = await this.find(id);
      throw failedPrecondition(`the override is already ${overrideState(cur, this.deps.clock.now())}`);
    }
    const leases = await this.deps.store.leasesOf(id);
    const revoked = leases.length && this.deps.revokeLeases ? await this.deps.revokeLeases(leases, `break-glass override ${id} revoked: ${why}`, operator.name, log) : 0;
    log.warn({ override_id: id, by: operator.name, leases_revoked: revoked }, 'break-glass revoked');
    return { view: this.view(done.value), ...(done.ref ? { evidence: done.ref } : {}) };
  }

  /** 5. Marks an override reviewed with a note (someone other than its requester and confirmer). */
  async review(operator: OperatorConfig, id: string, note: string, log: Logger): Promise<{ view: OverrideView; evidence?: EvidenceRef }> {
    const text = checkText('note', note, MAX_NOTE, 'required: what the review found');
    const o = await this.find(id);
    if (!operator.roles.some((r) => REVIEWERS.includes(r))) throw permissionDenied('reviewing break-glass requires the operator role "approver" or "auditor"');
    if (operator.name === o.requestedBy || operator.name === o.confirmedBy) {
      throw permissionDenied(`${operator.name} ${operator.name === o.requestedBy ? 'asked for' : 'confirmed'} this override and may not review it: someone else must`);
    }
    const now = this.deps.clock.now();
    const done = await this.commit(
      (s) => {
        const cur = s.read(id);
        if (!cur) throw notFound('break-glass override');
        if (cur.reviewedAt !== undefined) throw failedPrecondition(`already reviewed by ${cur.reviewedBy}`);
        return s.update({ ...cur, reviewedBy: operator.name, reviewedAt: now, reviewNote: text }, now);
      },
      (u) => [breakglassDraft(u, 'reviewed', { by: operator.name, note: text })],
    );
    if (!done) throw new BrokerError('internal', 'break-glass review was not stored');
    log.info({ override_id: id, by: operator.name }, 'break-glass reviewed');
    return { view: this.view(done.value), ...(done.ref ? { evidence: done.ref } : {}) };
  }

  async get(id: string): Promise<OverrideView> {
    return this.view(await this.find(id));
  }

  /** Newest first; `unreviewed` is what `approvals review` lists. */
  async list(filter: Partial<OverrideFilter>): Promise<OverrideView[]> {
    await this.expireDue();
    const rows = await this.deps.store.list({ ...filter, limit: Math.min(Math.max(filter.limit ?? 100, 1), MAX_LIST) });
    return rows.map((o) => this.view(o));
  }

  // ------------------------------------------------------------------ the decision step

  async applicable(q: { agent: string; action: string; resource: string; tier: string; dryRun: boolean }): Promise<OverrideRecord | undefined> {
    try {
      return await this.applicableNow(q);
    } catch (err) {
      // Fails closed: an override that cannot be read (or a quarantine that cannot be recorded yet) grants nothing.
      this.deps.log.warn({ err, agent: q.agent, action: q.action }, 'could not check break-glass overrides; none applies');
      return undefined;
    }
  }

  recordGrant(overrideId: string, leaseId: string, at: number): boolean {
    return this.deps.store.statements.recordGrant(overrideId, leaseId, at);
  }

  private async applicableNow(q: { agent: string; action: string; resource: string; tier: string; dryRun: boolean }): Promise<OverrideRecord | undefined> {
    const now = this.deps.clock.now();
    if (q.tier === 'quarantined') {
      // A quarantined agent gets no override, and the ones it had end now (recorded once, by the broker).
      if (!q.dryRun) await this.endForAgent(q.agent, 'the agent is quarantined');
      return undefined;
    }
    const live = (await this.deps.store.live(q.agent, q.action, now)).filter((o) => o.resource === '' || o.resource === q.resource);
    // The narrowest first: an override for exactly this resource, else one for every resource.
    return live.find((o) => o.resource === q.resource) ?? live[0];
  }

  /**
   * Ends every open override of `agent` (state `ended`, by the broker, with
   * `reason` and the `cause`, e.g. the trust.changed entry). The trust
   * service calls it when an agent drops to quarantined; the decision step
   * does too when it sees that tier.
   */
  async endForAgent(agent: string, reason: string, cause?: Record<string, unknown>): Promise<number> {
    const open = await this.deps.store.open(agent);
    let n = 0;
    for (const o of open) {
      const done = await this.end(o.id, 'ended', 'broker', reason, 'ended', cause);
      if (done) n++;
    }
    if (n) this.deps.log.warn({ agent, ended: n, reason }, 'break-glass overrides ended by the broker');
    return n;
  }

  /** Records every open override past its expiry as expired (one entry each). */
  async expireDue(): Promise<number> {
    // One sweep at a time: a caller (list, the timer, a test) waits for the one under way, whose
    // entries are then durable, and sweeps again at its own time (cheap when nothing is due).
    return this.sweeps.run('expire', () => this.sweepExpired());
  }

  private readonly sweeps = new KeyedMutex();

  private async sweepExpired(): Promise<number> {
    const now = this.deps.clock.now();
    const next = await this.deps.store.nextExpiry();
    if (next === undefined || next > now) return 0;
    let total = 0;
    for (;;) {
      const done = await this.commit(
        (s) => {
          const rows = s.expire(now, 100);
          return rows.length ? rows : undefined;
        },
        (rows) => rows.map((r) => breakglassDraft(r, 'expired', { by: 'broker' })),
      );
      if (!done) return total;
      total += done.value.length;
      if (done.value.length < 100) return total;
    }
  }

  start(): void {
    this.ensureTimer();
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  view(o: OverrideRecord): OverrideView {
    const now = this.deps.clock.now();
    const state = overrideState(o, now);
    const owner = this.deps.config.agents[o.agent]?.owner;
    return { record: o, state, ...(owner ? { owner } : {}), msLeft: isOpen(state) ? Math.max(0, o.expiresAt - now) : 0 };
  }

  // ------------------------------------------------------------------ helpers

  private async find(id: string): Promise<OverrideRecord> {
    if (!id) throw invalidArgument('override_id', 'required');
    const o = ID.test(id) ? await this.deps.store.get(id) : undefined;
    if (!o) throw notFound('break-glass override');
    return o;
  }

  private end(id: string, state: 'revoked' | 'ended', by: string, reason: string, event: OverrideEvent, cause?: Record<string, unknown>): Promise<{ value: OverrideRecord; ref?: EvidenceRef } | undefined> {
    const now = this.deps.clock.now();
    return this.commit(
      (s) => {
        const cur = s.read(id);
        if (!cur || !isOpen(overrideState(cur, now))) return undefined;
        return s.update({ ...cur, state, endedBy: by, endedAt: now, endReason: reason }, now);
      },
      (u) => [breakglassDraft(u, event, { by, reason, ...(cause ? { cause } : {}) })],
    );
  }

  /** A change with its entries in one commit; the first entry's ref. */
  private async commit<T>(change: (s: OverrideStatements) => T | undefined, drafts: (v: T) => EvidenceDraft[]): Promise<{ value: T; ref?: EvidenceRef } | undefined> {
    const { evidence, store } = this.deps;
    if (!evidence.appendWith) throw new BrokerError('unimplemented', 'break-glass needs an evidence log that shares the state store\'s transactions');
    const done = await evidence.appendWith(() => change(store.statements), drafts);
    if (!done) return undefined;
    const ref = done.refs[0];
    return { value: done.value, ...(ref ? { ref } : {}) };
  }

  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.expireDue().catch((err: unknown) => this.deps.log.warn({ err }, 'could not record expired break-glass overrides; retrying'));
    }, this.deps.intervalMs ?? 1000);
    this.timer.unref();
  }
}

function checkText(field: string, text: string, max: number, missing = 'required'): string {
  const t = (text ?? '').trim();
  if (!t) throw invalidArgument(field, missing);
  if (t.length > max || [...t].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    throw invalidArgument(field, `at most ${max} characters, no control characters`);
  }
  return t;
}
