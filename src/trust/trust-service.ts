import type { AgentConfig, BrokerConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Clock } from '../lib/clock';
import { invalidArgument, unimplemented } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { Store, TrustHistoryRow, TrustRecord } from '../store/store';
import { parseTrustScore } from './trust-score';
import { applySignal, parseTrustSignal } from './trust-signals';
import { tierFor, type Tier, type TierThresholds } from './trust-tiers';

/** An agent's trust as policy sees it: `context.trust`, `context.tier`, `context.trust_fresh`. */
export interface TrustView {
  score: number;
  tier: Tier;
  /** A signal or a set confirmed the score within `trust.fresh_within`. */
  fresh: boolean;
  /**
   * The stored record this view was computed from (its raw score and when it was written);
   * absent when none was stored. A grant compares it with the record stored at its commit.
   */
  readFrom?: { score: number; updatedAt: number };
}

export interface TrustReader {
  /** The agent's trust now, decay applied (lazily: a decay that crosses a tier is recorded once). */
  current(agent: string): Promise<TrustView>;
}

/** The full state SetTrust, ReportSignal and GetTrust answer with. */
export interface TrustState extends TrustView {
  agent: string;
  /** When the score last changed (absent: never stored, the initial score). */
  updatedAt?: number;
  confirmedAt?: number;
}

/** What one change did: before and after, its `trust.changed` entry, and the leases the drop revoked. */
export interface TrustChangeResult {
  before: TrustView;
  after: TrustState;
  evidence?: EvidenceRef;
  leasesRevoked: number;
}

/** What a trust drop is handed: the agent, its trust now, and the `trust.changed` entry that lowered it. */
export interface TrustDrop {
  agent: AgentConfig;
  trust: TrustView;
  cause?: EvidenceRef;
}

export interface TrustServiceDeps {
  config: Pick<BrokerConfig, 'agents' | 'trust'>;
  store: Pick<Store, 'getTrust' | 'trustHistory' | 'writeTrust' | 'trustStatements'>;
  clock: Clock;
  log: Logger;
  /** Where `trust.changed` goes, in the same commit as the change (appendWith). */
  evidence?: EvidenceSink;
  /**
   * After a change lowered a score: re-decides the agent's live authority
   * (leases, pending approvals) and resolves with how many leases it revoked.
   * Called before the change's caller is answered.
   */
  onDrop?: (drop: TrustDrop, log: Logger) => Promise<number>;
}

/** Operator text (a signal's detail, a set's reason): required, bounded, one line. */
const MAX_NOTE = 1024;

interface Profile {
  initial: number;
  thresholds: TierThresholds;
  baseline: number;
}

interface Change {
  next: TrustRecord;
  row: TrustHistoryRow;
  before: TrustView;
}

/**
 * Each agent's trust score and tier: lazy decay toward a baseline, signals
 * (of configured kinds) and sets, each a `trust.changed` entry committed with
 * the change and a history row; a change that lowers a score re-decides the
 * agent's live authority before it is answered. Holds no state of its own:
 * everything is in the store.
 */
export class TrustService implements TrustReader {
  constructor(private readonly deps: TrustServiceDeps) {}

  /** The agent's initial score, thresholds and decay baseline (per-agent overrides first). */
  private profile(agent: string): Profile {
    const t = this.deps.config.trust;
    const a = this.deps.config.agents[agent]?.trust;
    const initial = a?.initial ?? t.initial;
    return { initial, thresholds: a?.thresholds ?? t.thresholds, baseline: t.decay?.toward ?? initial };
  }

  /** The stored score moved toward the baseline by whole decay periods since it last changed. */
  private decayed(rec: TrustRecord | undefined, p: Profile, now: number): { score: number; anchor: number | undefined } {
    const decay = this.deps.config.trust.decay;
    if (!rec) return { score: p.initial, anchor: undefined };
    if (!decay || now <= rec.updatedAt) return { score: rec.score, anchor: rec.updatedAt };
    const steps = Math.floor((now - rec.updatedAt) / decay.perMs);
    if (steps <= 0 || rec.score === p.baseline) return { score: rec.score, anchor: rec.updatedAt };
    const gap = p.baseline - rec.score;
    const move = Math.min(Math.abs(gap), steps * decay.points);
    return { score: rec.score + Math.sign(gap) * move, anchor: rec.updatedAt + steps * decay.perMs };
  }

  private fresh(rec: TrustRecord | undefined, now: number): boolean {
    return rec?.confirmedAt !== undefined && now - rec.confirmedAt < this.deps.config.trust.freshWithinMs;
  }

  private view(agent: string, rec: TrustRecord | undefined, now: number): TrustState {
    const p = this.profile(agent);
    const { score } = this.decayed(rec, p, now);
    return {
      agent,
      score,
      tier: tierFor(score, p.thresholds),
      fresh: this.fresh(rec, now),
      ...(rec ? { updatedAt: rec.updatedAt } : {}),
      ...(rec?.confirmedAt !== undefined ? { confirmedAt: rec.confirmedAt } : {}),
    };
  }

  async current(agent: string): Promise<TrustView> {
    const { out, rec } = await this.read(agent);
    return { score: out.score, tier: out.tier, fresh: out.fresh, ...(rec ? { readFrom: { score: rec.score, updatedAt: rec.updatedAt } } : {}) };
  }

  /**
   * The agent's state now. A decay that moved the score into another tier is
   * stored and recorded here, once (a conditional write: of concurrent reads
   * only one records it, and later reads find the tier stored); one that
   * lowered the tier re-decides the agent's leases in the background.
   */
  async state(agent: string): Promise<TrustState> {
    return (await this.read(agent)).out;
  }

  /** `state`, with the record it was computed from. */
  private async read(agent: string): Promise<{ out: TrustState; rec: TrustRecord | undefined }> {
    const now = this.deps.clock.now();
    const rec = await this.deps.store.getTrust(agent);
    const out = this.view(agent, rec, now);
    if (!rec) return { out, rec };
    const p = this.profile(agent);
    const storedTier = tierFor(rec.score, p.thresholds);
    if (out.tier === storedTier) return { out, rec };
    const { anchor } = this.decayed(rec, p, now);
    const done = await this.change(agent, now, (cur) => {
      // Someone changed it since this read: their change stands, and a later read decays from it.
      if (!cur || cur.score !== rec.score || cur.updatedAt !== rec.updatedAt) return undefined;
      return {
        next: { agent, score: out.score, updatedAt: anchor ?? now, ...(rec.confirmedAt !== undefined ? { confirmedAt: rec.confirmedAt } : {}) },
        row: { at: now, oldScore: rec.score, newScore: out.score, oldTier: storedTier, newTier: out.tier, kind: 'decay', note: `decay toward ${p.baseline}`, by: 'broker' },
        before: { score: rec.score, tier: storedTier, fresh: out.fresh },
      };
    });
    if (done && out.score < rec.score) {
      const a = this.deps.config.agents[agent];
      // Not awaited: a read must not wait for a re-decision of every lease; the revocations follow at once.
      if (a && this.deps.onDrop) {
        this.deps.onDrop({ agent: a, trust: { score: out.score, tier: out.tier, fresh: out.fresh }, ...(done.ref ? { cause: done.ref } : {}) }, this.deps.log).catch((err: unknown) => {
          this.deps.log.error({ err, agent }, 'could not re-decide leases after trust decayed');
        });
      }
    }
    return { out, rec };
  }

  /** ReportSignal (an operator) or a broker-raised signal: moves the score by the kind's (bounded) weight. */
  async signal(
    agentName: string,
    input: { kind: string; weight?: number; detail: string },
    by: string,
    log: Logger,
    opts: { fromBroker?: boolean } = {},
  ): Promise<TrustChangeResult> {
    const agent = this.agentOf(agentName);
    const signal = parseTrustSignal(this.deps.config.trust.signals, { kind: input.kind, weight: input.weight }, opts);
    const detail = note(input.detail, 'detail', 'what was observed, in one line');
    // A signal the broker raises itself is not a confirmation: an agent must not make its own trust fresh by misbehaving.
    return this.apply(agent, by, log, !opts.fromBroker, (base) => ({
      score: applySignal(base, signal),
      kind: signal.kind,
      weight: signal.weight,
      note: detail,
      entry: { signal: { kind: signal.kind, weight: signal.weight, detail } },
    }));
  }

  /** SetTrust: an operator sets the score outright. */
  async set(agentName: string, score: unknown, reason: string, by: string, log: Logger): Promise<TrustChangeResult> {
    const agent = this.agentOf(agentName);
    const value = parseTrustScore(score);
    const why = note(reason, 'reason', 'why the score is set, in one line');
    return this.apply(agent, by, log, true, () => ({ score: value, kind: 'set', note: why, entry: { set: { reason: why } } }));
  }

  async history(agentName: string, limit: number): Promise<TrustHistoryRow[]> {
    this.agentOf(agentName);
    return this.deps.store.trustHistory(agentName, Math.min(Math.max(limit, 1), 1000));
  }

  /** GetTrust: the state of a configured agent. */
  async get(agentName: string): Promise<TrustState> {
    this.agentOf(agentName);
    return this.state(agentName);
  }

  private agentOf(name: string): AgentConfig {
    if (!name) throw invalidArgument('agent', 'required: a configured agent name');
    const a = this.deps.config.agents[name];
    if (!a) throw invalidArgument('agent', `${JSON.stringify(name.slice(0, 64))} is not a configured agent`);
    return a;
  }

  /**
   * One signal or set: read, decay, apply, store with its history row and its
   * `trust.changed` entry in one commit (so concurrent changes of one agent
   * each apply to the other's result); then, when the score went down, the
   * agent's live authority is re-decided before this resolves.
   */
  private async apply(
    agent: AgentConfig,
    by: string,
    log: Logger,
    /** An operator's change confirms the score (fresh from now); a broker-raised one keeps the last confirmation. */
    confirms: boolean,
    fn: (base: number) => { score: number; kind: string; weight?: number; note: string; entry: Record<string, unknown> },
  ): Promise<TrustChangeResult> {
    const now = this.deps.clock.now();
    let entry: Record<string, unknown> = {};
    let unchanged: TrustState | undefined;
    const done = await this.change(agent.name, now, (rec) => {
      const before = this.view(agent.name, rec, now);
      const c = fn(before.score);
      // A broker-raised signal that moves nothing (the score at its floor) is not written: repeated, it would only grow the log.
      if (!confirms && c.score === before.score) {
        unchanged = before;
        return undefined;
      }
      entry = c.entry;
      const p = this.profile(agent.name);
      return {
        next: { agent: agent.name, score: c.score, updatedAt: now, ...(confirms ? { confirmedAt: now } : rec?.confirmedAt !== undefined ? { confirmedAt: rec.confirmedAt } : {}) },
        row: { at: now, oldScore: before.score, newScore: c.score, oldTier: before.tier, newTier: tierFor(c.score, p.thresholds), kind: c.kind, ...(c.weight !== undefined ? { weight: c.weight } : {}), note: c.note, by },
        before: { score: before.score, tier: before.tier, fresh: before.fresh },
      };
    }, () => entry);
    if (!done && unchanged) {
      const same = { score: unchanged.score, tier: unchanged.tier, fresh: unchanged.fresh };
      return { before: same, after: unchanged, leasesRevoked: 0 };
    }
    if (!done) throw new Error('trust change was not stored');
    const after = this.view(agent.name, done.change.next, now);
    log.info({ agent: agent.name, kind: done.change.row.kind, old_score: done.change.before.score, score: after.score, tier: after.tier }, 'trust changed');
    let leasesRevoked = 0;
    if (after.score < done.change.before.score && this.deps.onDrop) {
      leasesRevoked = await this.deps.onDrop({ agent, trust: { score: after.score, tier: after.tier, fresh: after.fresh }, ...(done.ref ? { cause: done.ref } : {}) }, log);
    }
    return { before: done.change.before, after, ...(done.ref ? { evidence: done.ref } : {}), leasesRevoked };
  }

  /**
   * Runs `compute` on the stored record inside one write transaction and
   * stores its result with a history row and (with a log) its `trust.changed`
   * entry, or nothing when it returns undefined.
   */
  private async change(
    agent: string,
    now: number,
    compute: (rec: TrustRecord | undefined) => Change | undefined,
    extra: () => Record<string, unknown> = () => ({}),
  ): Promise<{ change: Change; ref?: EvidenceRef } | undefined> {
    const st = this.deps.store.trustStatements;
    if (!st) throw unimplemented('trust changes on this state store', 'a later issue');
    const run = (): Change | undefined => {
      const rec = st.getTrust(agent);
      const c = compute(rec);
      if (!c) return undefined;
      if (!st.putTrustIf(c.next, rec ? { score: rec.score, updatedAt: rec.updatedAt } : undefined)) return undefined;
      st.addTrustHistory(agent, c.row);
      return c;
    };
    const { evidence } = this.deps;
    if (!evidence) {
      const c = await this.deps.store.writeTrust(run);
      return c ? { change: c } : undefined;
    }
    if (!evidence.appendWith) throw unimplemented('trust changes with evidence on this state store', 'a later issue');
    const done = await evidence.appendWith(run, (c) => [trustChangedDraft(agent, c, now, extra())]);
    return done ? { change: done.value, ...(done.refs[0] ? { ref: done.refs[0] } : {}) } : undefined;
  }
}

function trustChangedDraft(agent: string, c: Change, now: number, extra: Record<string, unknown>): EvidenceDraft {
  return {
    type: 'trust.changed',
    agent,
    trust: {
      old: { score: c.row.oldScore, tier: c.row.oldTier },
      new: { score: c.row.newScore, tier: c.row.newTier },
      ...(c.row.kind === 'decay' ? { decay: { note: c.row.note } } : {}),
      ...(c.next.confirmedAt === now ? { confirmed: true } : {}),
    },
    ...extra,
    by: c.row.by,
  };
}

/** A required one-line note of at most MAX_NOTE characters, without control characters. */
function note(v: unknown, field: string, expected: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw invalidArgument(field, `required: ${expected}`);
  if (v.length > MAX_NOTE) throw invalidArgument(field, `must be at most ${MAX_NOTE} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) throw invalidArgument(field, 'must be one line of text without control characters');
  return v.trim();
}
