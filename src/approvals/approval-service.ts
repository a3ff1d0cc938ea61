import type { AgentConfig, ApprovalGroupConfig, BrokerConfig, OperatorConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Clock } from '../lib/clock';
import { BrokerError, failedPrecondition, invalidArgument, notFound, permissionDenied, resourceExhausted } from '../lib/errors';
import type { IdSource } from '../lib/ids';
import type { Logger } from '../lib/logger';
import type { ApprovalRecord, ApprovalState, ApprovalStatements, ApprovalStore, ApprovalVote, LeaseStatements } from '../store/store';
import { bindingDifferences, bindingHash, bindingOf, type ApprovalBinding } from './approval-binding';
import { seatsFilled } from './four-eyes';
import { KeyedMutex } from '../lib/keyed-mutex';

export type { ApprovalBinding } from './approval-binding';

/** The agent's trust as the decision saw it (the trust helper's TrustView has this shape). */
export interface ApprovalTrust {
  score: number;
  tier: string;
  fresh: boolean;
}

/**
 * What the decision step (RequestLease) needs of approvals: open one for a
 * permit whose obligation asks for it, and check one an agent redeems. The
 * consume itself is `store.statements.consumeApproval`, run inside the
 * lease-issue transaction.
 */
export interface ApprovalGate {
  /**
   * A new pending approval for this exact binding (groups from the permit's
   * obligation); records approval.requested; returns its id and expiry. A
   * pending approval of the same agent for the same binding is returned
   * instead of opening another.
   */
  open(input: { agent: AgentConfig; groups: readonly string[]; binding: ApprovalBinding; trust: ApprovalTrust }, log: Logger): Promise<{ id: string; expiresAt: number }>;
  /**
   * Refuses (BrokerError naming the differing part: "params.amount",
   * "ttl_seconds", "rule", ...) unless approval `id` belongs to `agent` (else
   * NOT_FOUND), is approved, unexpired, unconsumed, and its binding equals
   * `binding`. Does not consume.
   */
  check(agent: string, id: string, binding: ApprovalBinding): Promise<void>;
}

/** An approval as the API shows it: the record, its state now, and who may decide it. */
export interface ApprovalView {
  record: ApprovalRecord;
  binding: ApprovalBinding;
  /** The state now: an open approval past its expiry is expired even before the sweep records it. */
  state: ApprovalState;
  owner?: string;
  /** Per group: approvals needed and approvals given. */
  progress: Array<{ group: string; required: number; approvals: number }>;
  /** ms until it expires (0 once it has). */
  msLeft: number;
}

export interface ApprovalServiceDeps {
  config: Pick<BrokerConfig, 'approvals' | 'agents'>;
  store: ApprovalStore & { readonly statements?: ApprovalStatements & Pick<LeaseStatements, 'consumeApproval'> };
  clock: Clock;
  ids: Pick<IdSource, 'randomPoolBytes'>;
  /** approval.requested and approval.decided commit with the change they record. */
  evidence?: EvidenceSink;
  log: Logger;
  /** How often expired approvals are recorded and their watchers told (default 1 s). */
  intervalMs?: number;
}

/** Open (pending) approvals one agent may have at once: a flood of requests cannot bury the approvers. */
export const MAX_OPEN_APPROVALS_PER_AGENT = 50;
const MAX_REASON = 500;
const MAX_LIST = 500;
const ID = /^apr_[A-Za-z0-9_-]{24}$/;

const iso = (ms: number): string => new Date(ms).toISOString();
const isOpen = (s: ApprovalState): boolean => s === 'pending' || s === 'approved';

/** The state of `a` at `now`. */
export function effectiveState(a: ApprovalRecord, now: number): ApprovalState {
  return isOpen(a.state) && a.expiresAt <= now ? 'expired' : a.state;
}

/** Told each committed change of one approval; undefined when the service stops. */
type Listener = (a: ApprovalRecord | undefined) => void;

/**
 * Approvals: a permit with `@obligation("approval:<group>")` opens one bound
 * to the exact request; approvers of the group vote; the agent redeems it
 * once. The steps of a vote, in order:
 *   1. the approval exists and the operator is an approver of one of its groups;
 *   2. four eyes: the agent's owner never decides its requests;
 *   3. inside the write transaction: still pending, unexpired, not voted on by
 *      this approver; the vote is added, and `required` distinct approvals in
 *      every group approve it, any one denial rejects it;
 *   4. the change commits with its `approval.decided` entry, or neither;
 *   5. watchers are told.
 */
export class ApprovalService implements ApprovalGate {
  private readonly listeners = new Map<string, Set<Listener>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: ApprovalServiceDeps) {}

  // ------------------------------------------------------------------ agent side

  async open(input: { agent: AgentConfig; groups: readonly string[]; binding: ApprovalBinding; trust: ApprovalTrust }, log: Logger): Promise<{ id: string; expiresAt: number }> {
    const groups = [...new Set(input.groups)];
    if (groups.length === 0) throw new BrokerError('internal', 'an approval needs at least one group');
    const configs = groups.map((g) => (Object.hasOwn(this.deps.config.approvals, g) ? this.deps.config.approvals[g] : undefined));
    // Config check refuses a policy naming an unconfigured group; one that slips through denies.
    if (configs.some((c) => c === undefined)) throw new BrokerError('internal', `approval group not configured: ${groups.join(', ')}`);
    const binding = bindingOf(input.binding);
    if (binding.agent !== input.agent.name) throw new BrokerError('internal', 'an approval binding names another agent');
    const hash = bindingHash(binding);
    const now = this.deps.clock.now();
    // The same request asked again while it waits gets the same approval, not a second one for the approvers.
    const existing = await this.deps.store.findPendingApproval(input.agent.name, hash, now);
    if (existing) return { id: existing.id, expiresAt: existing.expiresAt };
    const record: ApprovalRecord = {
      id: `apr_${this.deps.ids.randomPoolBytes(18).toString('base64url')}`,
      agent: input.agent.name,
      groups,
      binding: binding as unknown as Record<string, unknown>,
      bindingHash: hash,
      trust: { score: input.trust.score, tier: input.trust.tier, fresh: input.trust.fresh },
      state: 'pending',
      votes: [],
      createdAt: now,
      expiresAt: now + Math.min(...configs.map((c) => c!.expiresMs)),
      version: 1,
      updatedAt: now,
    };
    // Looked for again inside the write transaction: of concurrent identical requests, the first opens it and the rest get it.
    const stored = await this.commit(
      (s) => {
        const opened = s.findPendingApprovalWithin(input.agent.name, hash, now);
        if (opened) return { a: opened, created: false };
        const a = s.insertApprovalWithin(record, MAX_OPEN_APPROVALS_PER_AGENT, now);
        return a ? { a, created: true } : undefined;
      },
      (r) => (r.created ? [this.requestedDraft(r.a)] : []),
    );
    if (!stored) throw resourceExhausted(`too many approvals waiting (at most ${MAX_OPEN_APPROVALS_PER_AGENT} per agent); wait for them to be decided or expire`);
    if (!stored.created) return { id: stored.a.id, expiresAt: stored.a.expiresAt };
    log.info({ approval_id: record.id, groups, action: binding.action, resource: binding.resource, expires_at: iso(record.expiresAt) }, 'approval requested');
    this.ensureTimer();
    return { id: record.id, expiresAt: record.expiresAt };
  }

  async check(agent: string, id: string, binding: ApprovalBinding): Promise<void> {
    const a = await this.ownApproval(agent, id);
    const state = effectiveState(a, this.deps.clock.now());
    // Expiry noticed here is recorded now (and its watchers told), not only at the next sweep.
    if (state === 'expired' && isOpen(a.state)) await this.expireDue();
    if (state !== 'approved') throw failedPrecondition(notRedeemable(state));
    const differs = bindingDifferences(a.binding as unknown as ApprovalBinding, bindingOf(binding));
    if (differs.length) {
      throw failedPrecondition(`the approval does not cover this request: ${differs.join(', ')} ${differs.length === 1 ? 'differs' : 'differ'} from what was approved; an approval covers exactly one request`);
    }
    // The parts are equal, so the hashes are; a stored hash that disagrees is a corrupt row: never redeem it.
    if (bindingHash(binding) !== a.bindingHash) throw new BrokerError('internal', 'approval binding hash mismatch');
  }

  /** The agent's own approval, or NOT_FOUND (another agent's is indistinguishable from a missing one). */
  async ownApproval(agent: string, id: string): Promise<ApprovalRecord> {
    if (!id) throw invalidArgument('approval_id', 'required');
    if (!ID.test(id)) throw notFound('approval');
    const a = await this.deps.store.getApproval(id);
    if (!a || a.agent !== agent) throw notFound('approval');
    return a;
  }

  /**
   * Streams approval `id` of `agent`: its state now, then each change; ends
   * once it is no longer pending (decided or expired), when `signal` aborts,
   * or when the service closes.
   */
  async watch(agent: string, id: string, send: (v: ApprovalView) => void, signal: AbortSignal): Promise<void> {
    const queue: ApprovalRecord[] = [];
    let wake: (() => void) | undefined;
    const listener: Listener = (a) => {
      if (a) queue.push(a);
      wake?.();
    };
    // Listening before the first read: a change in between is queued, not missed.
    this.subscribe(id, listener);
    const onAbort = (): void => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      const first = await this.ownApproval(agent, id);
      let version = first.version;
      const view = this.view(first);
      send(view);
      if (view.state !== 'pending') return;
      this.ensureTimer();
      for (;;) {
        while (queue.length) {
          const a = queue.shift()!;
          if (a.version <= version) continue;
          version = a.version;
          const v = this.view(a);
          send(v);
          if (v.state !== 'pending') return;
        }
        if (signal.aborted || this.closed) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.unsubscribe(id, listener);
    }
  }

  // ------------------------------------------------------------------ approver side

  /** Approvals in the groups `operator` approves for (pending ones unless `states` says otherwise), newest first. */
  async list(operator: OperatorConfig, filter: { states?: readonly ApprovalState[]; group?: string; agent?: string; limit?: number }): Promise<ApprovalView[]> {
    const mine = this.groupsOf(operator);
    if (filter.group && !mine.includes(filter.group)) throw permissionDenied(`${operator.name} is not an approver of the group "${filter.group.slice(0, 64)}"`);
    await this.expireDue();
    const records = await this.deps.store.listApprovals({
      groups: filter.group ? [filter.group] : mine,
      states: filter.states ?? ['pending'],
      ...(filter.agent ? { agent: filter.agent } : {}),
      limit: Math.min(Math.max(filter.limit ?? 100, 1), MAX_LIST),
    });
    return records.map((a) => this.view(a));
  }

  /** One approval, for an approver of one of its groups. */
  async get(operator: OperatorConfig, id: string): Promise<ApprovalView> {
    const a = await this.forApprover(operator, id);
    return this.view(a);
  }

  /** One approver's vote (steps 1 to 5 in the class comment); the approval as it stands after it. */
  async decide(operator: OperatorConfig, id: string, approve: boolean, reason: string, log: Logger): Promise<ApprovalView> {
    const why = checkReason(reason);
    // 1. It exists, and this operator approves for one of its groups.
    const a = await this.forApprover(operator, id);
    // 2. Four eyes: whoever answers for the agent never decides its requests, either way.
    const owner = this.deps.config.agents[a.agent]?.owner;
    if (owner === operator.name) {
      throw permissionDenied(`${operator.name} owns the agent ${a.agent} and may not decide its requests (four eyes): another approver of ${a.groups.join(', ')} must`);
    }
    const now = this.deps.clock.now();
    if (effectiveState(a, now) === 'expired') {
      await this.expireDue();
      throw failedPrecondition('the approval has expired; the agent must ask again');
    }
    const vote: ApprovalVote = { approver: operator.name, approve, reason: why, at: now };
    // 3 and 4: re-checked inside the transaction, so concurrent votes each see the one before.
    const decided = await this.commit(
      (s) => {
        const cur = s.readApproval(id);
        if (!cur) throw notFound('approval');
        const state = effectiveState(cur, now);
        if (state === 'expired') throw failedPrecondition('the approval has expired; the agent must ask again');
        // Any one deny rejects, also after enough approvals, until the approval is spent on a lease.
        if (state !== 'pending' && !(state === 'approved' && !approve)) throw failedPrecondition(`the approval is already ${state}`);
        // One vote each, with one exception: an approver may withdraw their approval with a deny
        // (less authority, like any deny) until the approval is spent.
        if (cur.votes.some((v) => v.approver === operator.name) && approve) {
          throw failedPrecondition(`${operator.name} has already voted on this approval; it needs ${this.stillNeeded(cur)} from other approvers`);
        }
        const votes = [...cur.votes, vote];
        const next: ApprovalState = !approve ? 'rejected' : this.met(cur.groups, votes, cur.agent) ? 'approved' : 'pending';
        return s.updateApproval({ ...cur, votes, state: next, ...(next !== 'pending' ? { decidedAt: now } : {}) }, now);
      },
      (u) => [this.decidedDraft(u, { vote })],
    );
    // The version read inside the transaction is the one written: nothing else can change it in between.
    if (!decided) throw new BrokerError('internal', 'approval vote was not stored');
    log.info({ approval_id: id, approve, state: decided.state, agent: decided.agent }, 'approval vote recorded');
    this.notify(decided);
    return this.view(decided);
  }

  // ------------------------------------------------------------------ the broker's own decisions

  /**
   * Re-checks the open (pending or approved, unconsumed) approvals of `agent`
   * against `permits` (the current policy and trust deciding the stored
   * binding; an error is a "no"); each no longer permitted is rejected by the
   * broker, recorded with `cause` (e.g. the `trust.changed` entry's index).
   * Returns how many were rejected. The trust helper calls it after a drop.
   */
  async recheckForAgent(agent: string, permits: (binding: ApprovalBinding) => boolean | Promise<boolean>, log: Logger, cause?: Record<string, unknown>): Promise<number> {
    const now = this.deps.clock.now();
    const open = (await this.deps.store.listApprovals({ agent, states: ['pending', 'approved'], limit: MAX_LIST })).filter((a) => a.expiresAt > now);
    const verdicts = await Promise.all(
      open.map(async (a) => {
        try {
          return await permits(a.binding as unknown as ApprovalBinding);
        } catch (err) {
          log.warn({ err, approval_id: a.id }, 'could not re-decide an approval; it is rejected');
          return false;
        }
      }),
    );
    const reason = 'the current policy and trust no longer permit this request';
    const rejected = await Promise.all(
      open
        .filter((_, i) => !verdicts[i])
        .map((a) =>
          this.commit(
            (s) => {
              const cur = s.readApproval(a.id);
              if (!cur || effectiveState(cur, now) === 'expired' || !isOpen(cur.state)) return undefined;
              return s.updateApproval({ ...cur, state: 'rejected', decidedAt: now, decidedBy: 'broker' }, now);
            },
            (u) => [this.decidedDraft(u, { by: 'broker', reason, ...(cause ? { cause } : {}) })],
          ),
        ),
    );
    const done = rejected.filter((r): r is ApprovalRecord => r !== undefined);
    for (const r of done) this.notify(r);
    if (done.length) log.info({ agent, rejected: done.length }, 'open approvals rejected after a re-check');
    return done.length;
  }

  /** Records every open approval past its expiry as expired (one entry each) and tells its watchers. */
  async expireDue(): Promise<number> {
    // One sweep at a time: a caller (list, the timer, a test) waits for the one under way, whose
    // entries are then durable, and sweeps again at its own time (cheap when nothing is due).
    return this.sweeps.run('expire', () => this.sweepExpired());
  }

  private readonly sweeps = new KeyedMutex();

  private async sweepExpired(): Promise<number> {
    const now = this.deps.clock.now();
    // A read first: the sweep writes (and appends) only when something is due.
    const next = await this.deps.store.nextApprovalExpiry();
    if (next === undefined || next > now) return 0;
    let total = 0;
    for (;;) {
      const expired = await this.commit(
        (s) => {
          const rows = s.expireApprovals(now, 100);
          return rows.length ? rows : undefined;
        },
        (rows) => rows.map((r) => this.decidedDraft(r, { by: 'broker', reason: 'expired' })),
      );
      if (!expired) return total;
      for (const r of expired) this.notify(r);
      total += expired.length;
      if (expired.length < 100) return total;
    }
  }

  /** Starts the expiry sweep (it also starts on its own when an approval is opened or watched). */
  start(): void {
    this.ensureTimer();
  }

  /** Stops the sweep and ends every watch stream. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const set of this.listeners.values()) for (const l of set) l(undefined);
  }

  // ------------------------------------------------------------------ views and helpers

  view(a: ApprovalRecord): ApprovalView {
    const now = this.deps.clock.now();
    const owner = this.deps.config.agents[a.agent]?.owner;
    return {
      record: a,
      binding: a.binding as unknown as ApprovalBinding,
      state: effectiveState(a, now),
      ...(owner ? { owner } : {}),
      progress: a.groups.map((g) => ({ group: g, required: this.deps.config.approvals[g]?.required ?? 0, approvals: this.approvalsIn(g, a.votes, a.agent) })),
      msLeft: Math.max(0, a.expiresAt - now),
    };
  }

  private groupsOf(operator: OperatorConfig): string[] {
    return Object.values(this.deps.config.approvals)
      .filter((g) => g.approvers.includes(operator.name))
      .map((g) => g.name);
  }

  private async forApprover(operator: OperatorConfig, id: string): Promise<ApprovalRecord> {
    if (!id) throw invalidArgument('approval_id', 'required');
    const a = ID.test(id) ? await this.deps.store.getApproval(id) : undefined;
    if (!a) throw notFound('approval');
    const mine = this.groupsOf(operator);
    if (!a.groups.some((g) => mine.includes(g))) throw permissionDenied(`${operator.name} is not an approver of ${a.groups.map((g) => `"${g}"`).join(' or ')}`);
    return a;
  }

  /** Distinct approvals in `group` by its listed approvers (never the agent's owner). */
  private approvalsIn(group: string, votes: readonly ApprovalVote[], agent: string): number {
    const g = this.deps.config.approvals[group];
    if (!g) return 0;
    const owner = this.deps.config.agents[agent]?.owner;
    return new Set(votes.filter((v) => v.approve && v.approver !== owner && g.approvers.includes(v.approver)).map((v) => v.approver)).size;
  }

  /** Every group has `required` distinct approvals, and no approver counts in two groups (four-eyes.ts). */
  private met(groups: readonly string[], votes: readonly ApprovalVote[], agent: string): boolean {
    const configs = groups.map((g) => this.deps.config.approvals[g]);
    if (configs.some((c) => c === undefined)) return false;
    const owner = this.deps.config.agents[agent]?.owner;
    return seatsFilled(configs as ApprovalGroupConfig[], votes.filter((v) => v.approve && v.approver !== owner).map((v) => v.approver));
  }

  private stillNeeded(a: ApprovalRecord): string {
    const short = a.groups.map((g) => `${Math.max(0, (this.deps.config.approvals[g]?.required ?? 0) - this.approvalsIn(g, a.votes, a.agent))} in ${g}`);
    // Each group counted enough, but some approver was counted in two: another person is needed.
    return short.every((s) => s.startsWith('0 ')) ? `another approver (one approver counts in one group only: ${a.groups.join(', ')})` : short.join(', ');
  }

  /** A change with its evidence in one commit (or, without a log, the change alone in its own transaction). */
  private async commit<T>(change: (s: ApprovalStatements & Pick<LeaseStatements, 'consumeApproval'>) => T | undefined, drafts: (v: T) => EvidenceDraft[]): Promise<T | undefined> {
    const { evidence, store } = this.deps;
    if (!evidence) return store.writeApprovals(change);
    const statements = store.statements;
    if (!evidence.appendWith || !statements) throw new BrokerError('unimplemented', 'approvals with evidence need a state store that shares the log\'s transactions');
    const done = await evidence.appendWith(() => change(statements), drafts);
    return done?.value;
  }

  private requestedDraft(a: ApprovalRecord): EvidenceDraft {
    const b = a.binding as unknown as ApprovalBinding;
    return {
      type: 'approval.requested',
      agent: a.agent,
      action: b.action,
      resource: b.resource,
      approval: {
        id: a.id,
        groups: a.groups,
        required: Object.fromEntries(a.groups.map((g) => [g, this.deps.config.approvals[g]?.required ?? 0])),
        expires_at: iso(a.expiresAt),
        binding_hash: a.bindingHash,
        rule: b.rule,
        policy_version: b.policy_version,
        ttl_seconds: b.ttl_seconds,
        max_uses: b.max_uses,
      },
      trust: { score: a.trust.score, tier: a.trust.tier, fresh: a.trust.fresh },
    };
  }

  private decidedDraft(a: ApprovalRecord, how: { vote?: ApprovalVote; by?: string; reason?: string; cause?: Record<string, unknown> }): EvidenceDraft {
    const b = a.binding as unknown as ApprovalBinding;
    return {
      type: 'approval.decided',
      agent: a.agent,
      action: b.action,
      resource: b.resource,
      approval: {
        id: a.id,
        groups: a.groups,
        binding_hash: a.bindingHash,
        // The outcome after this entry: still pending (more votes needed), approved, rejected or expired.
        state: a.state,
        approvals: Object.fromEntries(a.groups.map((g) => [g, this.approvalsIn(g, a.votes, a.agent)])),
      },
      ...(how.vote
        ? {
            vote: {
              approver: how.vote.approver,
              approve: how.vote.approve,
              ...(how.vote.reason ? { reason: how.vote.reason } : {}),
              // The approver's decision time: from the request to this vote.
              decision_time_ms: how.vote.at - a.createdAt,
            },
          }
        : {}),
      ...(how.by ? { by: how.by } : {}),
      ...(how.reason ? { reason: how.reason } : {}),
      ...(how.cause ? { cause: how.cause } : {}),
    };
  }

  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.expireDue().catch((err: unknown) => this.deps.log.warn({ err }, 'could not record expired approvals; retrying'));
    }, this.deps.intervalMs ?? 1000);
    this.timer.unref();
  }

  private subscribe(id: string, l: Listener): void {
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(l);
  }

  private unsubscribe(id: string, l: Listener): void {
    const set = this.listeners.get(id);
    set?.delete(l);
    if (set?.size === 0) this.listeners.delete(id);
  }

  private notify(a: ApprovalRecord): void {
    for (const l of this.listeners.get(a.id) ?? []) l(a);
  }
}

function notRedeemable(state: ApprovalState): string {
  switch (state) {
    case 'pending':
      return 'the approval is still pending; watch it (WatchApproval) and redeem it once approved';
    case 'rejected':
      return 'the approval was rejected';
    case 'expired':
      return 'the approval has expired; ask again for a new one';
    case 'consumed':
      return 'the approval has already been used; an approval covers one lease';
    default:
      return `the approval is ${state}`;
  }
}

function checkReason(reason: string): string {
  const r = reason.trim();
  if (!r) throw invalidArgument('reason', 'required: say why, for the evidence log');
  if (r.length > MAX_REASON || [...r].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
    throw invalidArgument('reason', `at most ${MAX_REASON} characters, no control characters`);
  }
  return r;
}
