import type { BrokerConfig } from '../config/config-types';
import type { BundleEntry } from '../evidence/bundle';
import { parseDecisionEntry } from '../evidence/decision-entry';
import type { PolicyEngine } from '../policy';
import { actionsPermittedFor, lintPolicySet } from '../policy/policy-lint';

/** The read side the report needs: the log's entries in order (as `policy replay` reads them). */
export interface ReportSource {
  size(): Promise<number>;
  entries(start: number, end: number): AsyncIterable<BundleEntry>;
}

export interface ReportOptions {
  config: Pick<BrokerConfig, 'agents' | 'actions'>;
  policy: PolicyEngine;
  source: ReportSource;
  /** Window [since, until) in ms since the epoch, on the entries' `time`. */
  since: number;
  until: number;
  /** Called every `progressEvery` entries read (the CLI prints it on stderr). */
  onProgress?: (read: number, total: number) => void;
  progressEvery?: number;
}

export interface Quantiles {
  count: number;
  p50: number | null;
  p90: number | null;
  max: number | null;
}

export interface AgentScope {
  agent: string;
  actions_permitted: string[];
  actions_invoked: string[];
  leases: number;
  uses_granted: number;
  uses_spent: number;
  weeks: Array<{ week: string; leases: number; uses_granted: number; uses_spent: number; actions_invoked: string[] }>;
  over_granted: boolean;
  /** A Cedar permit limited to the actions the agent actually invoked (over-granted agents only; a comment when it used none). */
  suggested_permit?: string;
}

export interface TrustDropRow {
  index: number;
  time: string;
  agent: string;
  from: { score: number; tier: string };
  to: { score: number; tier: string };
  by: string;
  leases_revoked: number;
  /** Seconds from the trust.changed entry to its last lease.revoked. */
  revocation_seconds: number | null;
}

export interface OverrideRow {
  id: string;
  agent: string;
  action: string;
  requested_by: string;
  confirmed_by: string;
  /** The operator's stated reason (free text: the HTML escapes it). */
  reason: string;
  state: string;
  uses: number;
  reviewed: boolean;
  reviewed_by?: string;
}

export interface Report {
  window: { since: string; until: string; entries_read: number };
  policy_version: string;
  policy_coverage: {
    actions: Array<{ action: string; permitted: boolean; finding?: string }>;
    actions_unpermitted: number;
    decisions: number;
    by_effect: Record<string, number>;
    leases_issued: number;
    leases_with_decision: number;
    invokes: number;
    invokes_with_lease: number;
    /** Log indexes of grants or uses with no decision before them (at most 20). */
    unproven: number[];
    /** True when every grant and use in the window passed the decision point. */
    all_decided: boolean;
  };
  scope_reduction: { agents: AgentScope[]; over_granted: number };
  trust_gating: { drops: number; leases_revoked: number; time_to_revoke_seconds: Quantiles; rows: TrustDropRow[] };
  manual_override: {
    approvals: { requested: number; approved: number; rejected: number; expired: number; time_to_decide_seconds: Quantiles };
    breakglass: { overrides: number; uses: number; reviewed: number; unreviewed: number; rows: OverrideRow[] };
  };
  explainability: { denials: number; explained: number; share: number | null; target: number; top_reasons: Array<{ reason: string; count: number }> };
}

/** An entry of the other types the report reads (decisions are read by parseDecisionEntry). */
interface Entry {
  index: number;
  time: string;
  type: string;
  agent?: string;
  action?: string;
  resource?: string;
  by?: string;
  lease?: { id: string; max_uses?: number; use?: number };
  cause?: { type?: string; index?: number };
  trust?: { old?: { score: number; tier: string }; new?: { score: number; tier: string } };
  approval?: { id: string; state?: string };
  vote?: { decision_time_ms?: number };
  breakglass?: { id: string; event: string; state: string; requested_by?: string; confirmed_by?: string; by?: string; reason?: string };
}

/** What the report reads of a decision's recorded explanation (src/policy's Explanation; older entries may lack parts). */
interface RecordedExplanation {
  deciding_policies?: Array<{ id: string; reason: string }>;
  candidates?: Array<{ id: string; failed_conditions?: string[] }>;
  hint?: string;
  summary?: string;
  budget?: { field: string; per: string };
}

const TYPES: readonly string[] = Object.freeze(['"type":"lease.', '"type":"invoke.intent"', '"type":"trust.changed"', '"type":"approval.', '"type":"breakglass"']);
const MAX_UNPROVEN = 20;
const MAX_REASONS = 10;
const DAY = 86_400_000;

/** What a decision and the lease.issued it licenses share. */
const grantKey = (e: Pick<Entry, 'agent' | 'action' | 'resource'>): string => `${e.agent ?? ''}\0${e.action ?? ''}\0${e.resource ?? ''}`;

/** Monday (UTC) of the week holding `ms`, as YYYY-MM-DD. */
export function weekOf(ms: number): string {
  const day = Math.floor(ms / DAY);
  // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
  const monday = day - ((day + 3) % 7);
  return new Date(monday * DAY).toISOString().slice(0, 10);
}

export function quantiles(values: readonly number[]): Quantiles {
  if (values.length === 0) return { count: 0, p50: null, p90: null, max: null };
  const s = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the values at or below it.
  const q = (p: number) => s[Math.max(0, Math.ceil(p * s.length) - 1)]!;
  return { count: s.length, p50: q(0.5), p90: q(0.9), max: s[s.length - 1]! };
}

/** Why a denial was denied, as a key that repeats across requests (no amounts, no resources). */
function reasonOf(e: RecordedExplanation): string {
  if (e.budget) return `budget: ${e.budget.field} per ${e.budget.per}`;
  const deciding = e.deciding_policies ?? [];
  if (deciding.length) return `forbidden by ${deciding.map((d) => d.id).join(', ')}`;
  const failed = (e.candidates ?? []).filter((c) => (c.failed_conditions ?? []).length > 0);
  if (failed.length) return `conditions failed: ${failed.map((c) => c.id).join(', ')}`;
  if ((e.candidates ?? []).length === 0) return 'no rule covers the action';
  return e.summary ?? 'unexplained';
}

/** A Cedar literal string. */
const cedarString = (s: string): string => JSON.stringify(s);

export function suggestedPermit(agent: string, actions: readonly string[]): string {
  if (actions.length === 0) return `// ${agent} used nothing in the report window: no permit is needed for it.`;
  const list = [...actions].sort().map((a) => `Action::${cedarString(a)}`);
  return [
    `@id(${cedarString(`${agent}-as-used`)})`,
    `@reason(${cedarString(`Limited to what ${agent} used in the report window.`)})`,
    `permit (`,
    `  principal == Agent::${cedarString(agent)},`,
    list.length === 1 ? `  action == ${list[0]},` : `  action in [${list.join(', ')}],`,
    `  resource`,
    `);`,
  ].join('\n');
}

/**
 * The seed's five measures over one window of the evidence log. It streams:
 * one entry parsed at a time; what it keeps is bounded by the output (rows
 * per trust drop and override, counters per agent, action and week) and by
 * the leases and approvals open at a time.
 */
export async function buildReport(o: ReportOptions): Promise<Report> {
  const actions = Object.keys(o.config.actions).sort();
  const agents = Object.values(o.config.agents);
  const findings = lintPolicySet(o.policy.policySet, { actions, agents });
  const unpermitted = new Map(findings.flatMap((f) => (f.kind === 'action_unpermitted' ? [[f.action, f.message] as const] : [])));
  const dynamic = (action: string | undefined): boolean => {
    const a = action !== undefined && Object.hasOwn(o.config.actions, action) ? o.config.actions[action] : undefined;
    return a !== undefined && a.http === undefined;
  };
  const inWindow = (e: Pick<Entry, 'time'>) => {
    const t = Date.parse(e.time);
    return t >= o.since && t < o.until;
  };

  const cov = { decisions: 0, by_effect: {} as Record<string, number>, leases: 0, leasesDecided: 0, invokes: 0, invokesLeased: 0, unproven: [] as number[], unprovenCount: 0 };
  /** The last decision that may grant, while it is the entry just read: a grant is appended with its decision, in one batch. */
  let licence: { index: number; key: string } | undefined;
  /** Leases issued after a decision and not yet ended. */
  const live = new Set<string>();
  const scope = new Map<string, { actions: Set<string>; leases: number; granted: number; spent: number; weeks: Map<string, { leases: number; granted: number; spent: number; actions: Set<string> }> }>();
  const scopeOf = (agent: string) => {
    let s = scope.get(agent);
    if (!s) scope.set(agent, (s = { actions: new Set(), leases: 0, granted: 0, spent: 0, weeks: new Map() }));
    return s;
  };
  const weekRow = (agent: string, time: string) => {
    const w = weekOf(Date.parse(time));
    const weeks = scopeOf(agent).weeks;
    let r = weeks.get(w);
    if (!r) weeks.set(w, (r = { leases: 0, granted: 0, spent: 0, actions: new Set() }));
    return r;
  };
  const drops = new Map<number, TrustDropRow & { at: number }>();
  let revokedByTrust = 0;
  const approvalAsked = new Map<string, number>();
  const ap = { requested: 0, approved: 0, rejected: 0, expired: 0, times: [] as number[] };
  const overrides = new Map<string, OverrideRow>();
  const ex = { denials: 0, explained: 0, reasons: new Map<string, number>() };
  const unproven = (index: number) => {
    cov.unprovenCount++;
    if (cov.unproven.length < MAX_UNPROVEN) cov.unproven.push(index);
  };

  const size = await o.source.size();
  const every = o.progressEvery ?? 50_000;
  let read = 0;
  for await (const raw of o.source.entries(0, size)) {
    read++;
    if (o.onProgress && read % every === 0) o.onProgress(read, size);
    const d = parseDecisionEntry(raw);
    if (d) {
      const effect = d.decision.effect || 'unknown';
      const count = d.folded_count ?? 1;
      // A decision that opened an approval grants nothing yet; its redemption is decided again.
      const opensApproval = d.decision.approvals !== undefined && d.decision.approval_id === undefined && d.explanation !== undefined;
      licence = effect !== 'deny' && !opensApproval ? { index: d.index, key: grantKey(d) } : undefined;
      if (!inWindow(d)) continue;
      cov.decisions += count;
      cov.by_effect[effect] = (cov.by_effect[effect] ?? 0) + count;
      if (effect === 'deny') {
        ex.denials += count;
        const x = d.explanation as RecordedExplanation | undefined;
        const explained = x !== undefined && ((x.deciding_policies ?? []).length > 0 || (x.candidates ?? []).length > 0) && (x.hint ?? '').trim() !== '';
        if (explained) ex.explained += count;
        const reason = x ? reasonOf(x) : 'no explanation recorded';
        ex.reasons.set(reason, (ex.reasons.get(reason) ?? 0) + count);
      }
      continue;
    }
    // A cheap test before parsing: heartbeats, results and the like are skipped unread.
    if (!TYPES.some((t) => raw.bytes.includes(t))) continue;
    const e = JSON.parse(raw.bytes.toString('utf8')) as Entry;
    const win = inWindow(e);
    const key = grantKey(e);
    switch (e.type) {
      case 'lease.issued': {
        const decided = licence !== undefined && licence.index === e.index - 1 && licence.key === key;
        licence = undefined;
        if (decided && e.lease) live.add(e.lease.id);
        if (!win) break;
        cov.leases++;
        if (decided) cov.leasesDecided++;
        else unproven(e.index);
        const s = scopeOf(e.agent ?? '');
        const uses = e.lease?.max_uses ?? 0;
        s.leases++;
        s.granted += uses;
        const w = weekRow(e.agent ?? '', e.time);
        w.leases++;
        w.granted += uses;
        // A dynamic credential (PostgreSQL, Vault) is used outside the broker: holding the lease is the use.
        if (dynamic(e.action)) {
          s.actions.add(e.action ?? '');
          w.actions.add(e.action ?? '');
        }
        break;
      }
      case 'lease.revoked':
      case 'lease.expired': {
        if (e.lease) live.delete(e.lease.id);
        if (e.type === 'lease.revoked' && e.cause?.type === 'trust.changed' && e.cause.index !== undefined) {
          const d = drops.get(e.cause.index);
          if (d) {
            d.leases_revoked++;
            revokedByTrust++;
            d.revocation_seconds = Math.max(d.revocation_seconds ?? 0, (Date.parse(e.time) - d.at) / 1000);
          }
        }
        break;
      }
      case 'invoke.intent': {
        if (!win) break;
        cov.invokes++;
        if (e.lease && live.has(e.lease.id)) cov.invokesLeased++;
        else unproven(e.index);
        const s = scopeOf(e.agent ?? '');
        s.spent++;
        s.actions.add(e.action ?? '');
        const w = weekRow(e.agent ?? '', e.time);
        w.spent++;
        w.actions.add(e.action ?? '');
        break;
      }
      case 'trust.changed': {
        const from = e.trust?.old;
        const to = e.trust?.new;
        if (!win || !from || !to || to.score >= from.score) break;
        drops.set(e.index, { index: e.index, time: e.time, agent: e.agent ?? '', from, to, by: e.by ?? '', leases_revoked: 0, revocation_seconds: null, at: Date.parse(e.time) });
        break;
      }
      case 'approval.requested': {
        if (!e.approval) break;
        approvalAsked.set(e.approval.id, Date.parse(e.time));
        if (win) ap.requested++;
        break;
      }
      case 'approval.decided': {
        const state = e.approval?.state;
        if (!e.approval || (state !== 'approved' && state !== 'rejected' && state !== 'expired')) break;
        const asked = approvalAsked.get(e.approval.id);
        approvalAsked.delete(e.approval.id);
        if (!win) break;
        if (state === 'expired') {
          ap.expired++;
          break;
        }
        ap[state]++;
        const ms = asked !== undefined ? Date.parse(e.time) - asked : e.vote?.decision_time_ms;
        if (ms !== undefined) ap.times.push(ms / 1000);
        break;
      }
      case 'breakglass': {
        const b = e.breakglass;
        if (!b) break;
        let row = overrides.get(b.id);
        if (!row) {
          if (!win) break;
          overrides.set(b.id, (row = { id: b.id, agent: e.agent ?? '', action: e.action ?? '', requested_by: b.requested_by ?? '', confirmed_by: '', reason: b.reason ?? '', state: b.state, uses: 0, reviewed: false }));
        }
        row.state = b.state;
        if (b.confirmed_by) row.confirmed_by = b.confirmed_by;
        if (b.event === 'granted') row.uses++;
        if (b.event === 'reviewed') {
          row.reviewed = true;
          if (b.by) row.reviewed_by = b.by;
        }
        break;
      }
    }
  }

  const agentRows: AgentScope[] = agents
    .map((a) => a.name)
    .concat([...scope.keys()].filter((n) => !Object.hasOwn(o.config.agents, n)))
    .sort()
    .map((name) => {
      const s = scope.get(name);
      const agent = Object.hasOwn(o.config.agents, name) ? o.config.agents[name]! : undefined;
      const permitted = agent ? actionsPermittedFor(o.policy.policySet, actions, agent) : [];
      const invoked = s ? [...s.actions].sort() : [];
      const over = permitted.some((p) => !invoked.includes(p));
      return {
        agent: name,
        actions_permitted: permitted,
        actions_invoked: invoked,
        leases: s?.leases ?? 0,
        uses_granted: s?.granted ?? 0,
        uses_spent: s?.spent ?? 0,
        weeks: s ? [...s.weeks.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([week, w]) => ({ week, leases: w.leases, uses_granted: w.granted, uses_spent: w.spent, actions_invoked: [...w.actions].sort() })) : [],
        over_granted: over,
        ...(over ? { suggested_permit: suggestedPermit(name, invoked) } : {}),
      };
    });
  const dropRows = [...drops.values()].map(({ at: _at, ...r }) => r);
  const bg = [...overrides.values()];
  return {
    window: { since: new Date(o.since).toISOString(), until: new Date(o.until).toISOString(), entries_read: read },
    policy_version: o.policy.version,
    policy_coverage: {
      actions: actions.map((a) => ({ action: a, permitted: !unpermitted.has(a), ...(unpermitted.has(a) ? { finding: unpermitted.get(a)! } : {}) })),
      actions_unpermitted: unpermitted.size,
      decisions: cov.decisions,
      by_effect: cov.by_effect,
      leases_issued: cov.leases,
      leases_with_decision: cov.leasesDecided,
      invokes: cov.invokes,
      invokes_with_lease: cov.invokesLeased,
      unproven: cov.unproven,
      all_decided: cov.unprovenCount === 0,
    },
    scope_reduction: { agents: agentRows, over_granted: agentRows.filter((a) => a.over_granted).length },
    trust_gating: {
      drops: dropRows.length,
      leases_revoked: revokedByTrust,
      time_to_revoke_seconds: quantiles(dropRows.flatMap((r) => (r.revocation_seconds !== null ? [r.revocation_seconds] : []))),
      rows: dropRows,
    },
    manual_override: {
      approvals: { requested: ap.requested, approved: ap.approved, rejected: ap.rejected, expired: ap.expired, time_to_decide_seconds: quantiles(ap.times) },
      breakglass: { overrides: bg.length, uses: bg.reduce((n, r) => n + r.uses, 0), reviewed: bg.filter((r) => r.reviewed).length, unreviewed: bg.filter((r) => !r.reviewed).length, rows: bg },
    },
    explainability: {
      denials: ex.denials,
      explained: ex.explained,
      share: ex.denials ? ex.explained / ex.denials : null,
      target: 1,
      top_reasons: [...ex.reasons.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, MAX_REASONS).map(([reason, count]) => ({ reason, count })),
    },
  };
}
