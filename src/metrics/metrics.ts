import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Which call a decision served (the gRPC method, or the broker's own re-evaluation after a trust drop or reload). */
export type DecisionRpc = 'RequestLease' | 'Invoke' | 'RenewLease' | 'Explain' | 'reevaluate';

/** An evidence entry as committed: its type and canonical bytes (read only for the few types metrics look inside). */
export interface CommittedEntry {
  readonly type: string;
  readonly bytes: Buffer | Uint8Array;
}

/**
 * The hooks core code calls. Every method is cheap and never throws; the
 * default (`NO_METRICS`) does nothing, so a component built without metrics
 * behaves exactly as before. Labels are bounded by configuration (action,
 * backend, witness, rpc, effect names) and never carry lease ids, resources
 * or params.
 */
export interface Metrics {
  /** A decision: its call, outcome (allow, approval, deny; an error deciding is a deny), agent and how long it took. */
  decision(rpc: DecisionRpc, effect: 'allow' | 'approval' | 'deny', agent: string, seconds: number): void;
  /** A RequestLease or Invoke RPC, end to end. */
  rpc(method: 'RequestLease' | 'Invoke', code: string, seconds: number): void;
  /** A brokered upstream call (from send to the scrubbed response), by action and outcome. */
  upstream(action: string, outcome: 'ok' | 'error', seconds: number): void;
  /** Upstream echoes of the injected secret that were scrubbed, by where they were found. */
  scrubbedEchoes(encoding: string, count: number): void;
  /** A call to a secret backend, by backend and outcome. */
  backend(backend: string, outcome: 'ok' | 'error', seconds: number): void;
  /** One evidence commit (the group commit, its fsync included) and the entries it made durable. */
  evidenceCommitted(entries: readonly CommittedEntry[], seconds: number): void;
  /** A witness did not cosign a checkpoint. */
  witnessFailure(witness: string): void;
  /** A dynamic credential was minted for a lease. */
  credentialIssued(action: string): void;
  /** Revoking a dynamic credential failed (it is retried). */
  revokeFailure(backend: string): void;
}

const noop = (): void => undefined;

/** Metrics that record nothing: the default everywhere. */
export const NO_METRICS: Metrics = Object.freeze({
  decision: noop,
  rpc: noop,
  upstream: noop,
  scrubbedEchoes: noop,
  backend: noop,
  evidenceCommitted: noop,
  witnessFailure: noop,
  credentialIssued: noop,
  revokeFailure: noop,
});

/** What a scrape reads from the daemon's state (cheaper there than counting every change). */
export interface MetricsSources {
  /** Active leases of each configured agent. */
  activeLeases(): Promise<ReadonlyArray<{ agent: string; count: number }>>;
  /** Approvals still pending. */
  pendingApprovals(): Promise<number>;
  /** Durable entries in the evidence log, and the latest checkpoint's time (ms), when there is a log. */
  evidence?(): { treeSize: number; checkpointAtMs: number };
  /** Each backend's breaker: closed, half_open or open. */
  breakers(): ReadonlyArray<{ backend: string; state: string }>;
  /** Each secret's rotation record: last success (ms) and outcome counts. */
  rotations(): Promise<ReadonlyArray<{ secret: string; lastRotatedAt?: number; rotated: number; failed: number }>>;
  now(): number;
}

export interface PromMetricsOptions {
  /** The build: version and Node version, for `secretbroker_build_info`. */
  version: string;
  /** Configured agent names; the `agent` label is used only while there are at most `agentLabelLimit` of them. */
  agents: readonly string[];
  agentLabelLimit: number;
}

const DURATION_BUCKETS: readonly number[] = Object.freeze([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const APPROVAL_BUCKETS: readonly number[] = Object.freeze([5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600]);
const MISNAMED_DEFAULTS = Object.freeze(['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']);
const BREAKER_STATES = Object.freeze(['closed', 'half_open', 'open']);
/** Lease entry types, as the `event` label of secretbroker_lease_events_total. */
const LEASE_EVENTS: ReadonlySet<string> = Object.freeze(new Set(['lease.issued', 'lease.renewed', 'lease.revoked', 'lease.expired']));

/**
 * The daemon's Prometheus metrics: one Registry per app (never prom-client's
 * global one), `secretbroker_` names, seconds and bytes, `_total` counters.
 * Gauges of state (active leases, pending approvals, the evidence tree,
 * breakers, rotations) are read at scrape time from `sources`.
 */
export class PromMetrics implements Metrics {
  readonly registry = new Registry();
  readonly #agentLabels: boolean;
  readonly #decisions: Counter<'rpc' | 'effect' | 'agent'>;
  readonly #decisionSeconds: Histogram<'rpc'>;
  readonly #rpcSeconds: Histogram<'method' | 'code'>;
  readonly #upstreamSeconds: Histogram<'action' | 'outcome'>;
  readonly #scrubbed: Counter<'encoding'>;
  readonly #backendSeconds: Histogram<'backend'>;
  readonly #backendErrors: Counter<'backend'>;
  readonly #evidenceEntries: Counter<'type'>;
  readonly #appendSeconds: Histogram;
  readonly #witnessFailures: Counter<'witness'>;
  readonly #leaseEvents: Counter<'event'>;
  readonly #credentialsIssued: Counter<'action'>;
  readonly #revokeFailures: Counter<'backend'>;
  readonly #approvalDecisions: Counter<'state'>;
  readonly #approvalDecisionSeconds: Histogram;
  readonly #trustChanges: Counter<'direction'>;
  readonly #trustRevocations: Counter;

  constructor(opts: PromMetricsOptions) {
    const registers = [this.registry];
    this.#agentLabels = opts.agents.length <= opts.agentLabelLimit;
    collectDefaultMetrics({ register: this.registry, prefix: 'secretbroker_' });
    // prom-client names three gauges *_total, which promtool (rightly) flags; secretbroker_nodejs_active_resources (by type) stays.
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(`secretbroker_${name}`);
    new Gauge({ name: 'secretbroker_build_info', help: 'The running build: 1, labelled with its version and Node version.', labelNames: ['version', 'node_version'], registers }).set({ version: opts.version, node_version: process.version }, 1);
    this.#decisions = new Counter({ name: 'secretbroker_decisions_total', help: 'Decisions by rpc and effect (allow, approval, deny); agent while the configured agents are at most metrics.agent_label_limit.', labelNames: ['rpc', 'effect', 'agent'], registers });
    this.#decisionSeconds = new Histogram({ name: 'secretbroker_decision_duration_seconds', help: 'Time to decide (trust, budget, policy, obligations, approvals).', labelNames: ['rpc'], buckets: [...DURATION_BUCKETS], registers });
    this.#rpcSeconds = new Histogram({ name: 'secretbroker_rpc_duration_seconds', help: 'RequestLease and Invoke RPCs, end to end, by method and gRPC code.', labelNames: ['method', 'code'], buckets: [...DURATION_BUCKETS], registers });
    this.#upstreamSeconds = new Histogram({ name: 'secretbroker_upstream_duration_seconds', help: 'Brokered upstream calls, by action and outcome.', labelNames: ['action', 'outcome'], buckets: [...DURATION_BUCKETS], registers });
    this.#scrubbed = new Counter({ name: 'secretbroker_scrubbed_echoes_total', help: 'Echoes of an injected secret scrubbed from upstream responses, by encoding.', labelNames: ['encoding'], registers });
    this.#backendSeconds = new Histogram({ name: 'secretbroker_backend_duration_seconds', help: 'Calls to secret backends, by backend.', labelNames: ['backend'], buckets: [...DURATION_BUCKETS], registers });
    this.#backendErrors = new Counter({ name: 'secretbroker_backend_errors_total', help: 'Failed calls to secret backends.', labelNames: ['backend'], registers });
    this.#evidenceEntries = new Counter({ name: 'secretbroker_evidence_entries_total', help: 'Evidence entries made durable, by type.', labelNames: ['type'], registers });
    this.#appendSeconds = new Histogram({ name: 'secretbroker_evidence_append_duration_seconds', help: 'One evidence group commit, fsync included.', buckets: [...DURATION_BUCKETS], registers });
    this.#witnessFailures = new Counter({ name: 'secretbroker_witness_failures_total', help: 'Checkpoints a witness did not cosign, by witness URL.', labelNames: ['witness'], registers });
    this.#leaseEvents = new Counter({ name: 'secretbroker_lease_events_total', help: 'Lease events (issued, renewed, revoked, expired).', labelNames: ['event'], registers });
    this.#credentialsIssued = new Counter({ name: 'secretbroker_dynamic_credentials_issued_total', help: 'Dynamic credentials minted for leases, by action.', labelNames: ['action'], registers });
    this.#revokeFailures = new Counter({ name: 'secretbroker_credential_revoke_failures_total', help: 'Failed revocations of dynamic credentials (retried), by backend.', labelNames: ['backend'], registers });
    this.#approvalDecisions = new Counter({ name: 'secretbroker_approval_decisions_total', help: 'approval.decided entries, by the state after them (pending, approved, rejected, expired).', labelNames: ['state'], registers });
    this.#approvalDecisionSeconds = new Histogram({ name: 'secretbroker_approval_decision_seconds', help: "An approver's decision time: from the request to the vote.", buckets: [...APPROVAL_BUCKETS], registers });
    this.#trustChanges = new Counter({ name: 'secretbroker_trust_changes_total', help: 'Trust changes, by direction (up, down, same).', labelNames: ['direction'], registers });
    this.#trustRevocations = new Counter({ name: 'secretbroker_trust_revocations_total', help: 'Leases revoked because their agent\u2019s trust dropped.', registers });
  }

  /** Registers the gauges read from the daemon's state at scrape time. */
  observe(sources: MetricsSources): void {
    const registers = [this.registry];
    const byAgent = this.#agentLabels;
    new Gauge({
      name: 'secretbroker_active_leases',
      help: 'Active leases; by agent while the configured agents are at most metrics.agent_label_limit.',
      labelNames: ['agent'],
      registers,
      async collect() {
        this.reset();
        const counts = await sources.activeLeases();
        if (byAgent) for (const { agent, count } of counts) this.set({ agent }, count);
        else this.set(counts.reduce((n, c) => n + c.count, 0));
      },
    });
    new Gauge({
      name: 'secretbroker_pending_approvals',
      help: 'Approvals waiting for a decision.',
      registers,
      async collect() {
        this.set(await sources.pendingApprovals());
      },
    });
    if (sources.evidence) {
      const evidence = sources.evidence.bind(sources);
      new Gauge({
        name: 'secretbroker_evidence_tree_size',
        help: 'Durable entries in the evidence log (its Merkle tree size).',
        registers,
        collect() {
          this.set(evidence().treeSize);
        },
      });
      new Gauge({
        name: 'secretbroker_evidence_checkpoint_age_seconds',
        help: 'Age of the latest signed checkpoint.',
        registers,
        collect() {
          this.set(Math.max(0, (sources.now() - evidence().checkpointAtMs) / 1000));
        },
      });
    }
    new Gauge({
      name: 'secretbroker_backend_breaker_state',
      help: "Each backend's circuit breaker: 1 for its current state (closed, half_open, open), 0 for the others.",
      labelNames: ['backend', 'state'],
      registers,
      collect() {
        this.reset();
        for (const b of sources.breakers()) for (const s of BREAKER_STATES) this.set({ backend: b.backend, state: s }, b.state === s ? 1 : 0);
      },
    });
    const rotations = (): ReturnType<MetricsSources['rotations']> => sources.rotations();
    new Gauge({
      name: 'secretbroker_rotation_last_success_timestamp_seconds',
      help: 'When each secret was last rotated successfully (Unix seconds).',
      labelNames: ['secret'],
      registers,
      async collect() {
        this.reset();
        for (const r of await rotations()) if (r.lastRotatedAt !== undefined) this.set({ secret: r.secret }, r.lastRotatedAt / 1000);
      },
    });
    // Outcome counts are kept by the rotations table (they survive restarts): a counter read from it.
    new Counter({
      name: 'secretbroker_rotations_total',
      help: 'Rotation attempts, by secret and outcome (rotated, failed).',
      labelNames: ['secret', 'outcome'],
      registers,
      async collect() {
        this.reset();
        for (const r of await rotations()) {
          this.inc({ secret: r.secret, outcome: 'rotated' }, r.rotated);
          this.inc({ secret: r.secret, outcome: 'failed' }, r.failed);
        }
      },
    });
  }

  /** The exposition, in Prometheus text format. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  decision(rpc: DecisionRpc, effect: 'allow' | 'approval' | 'deny', agent: string, seconds: number): void {
    this.#decisions.inc({ rpc, effect, agent: this.#agentLabels ? agent : '' });
    this.#decisionSeconds.observe({ rpc }, seconds);
  }

  rpc(method: 'RequestLease' | 'Invoke', code: string, seconds: number): void {
    this.#rpcSeconds.observe({ method, code }, seconds);
  }

  upstream(action: string, outcome: 'ok' | 'error', seconds: number): void {
    this.#upstreamSeconds.observe({ action, outcome }, seconds);
  }

  scrubbedEchoes(encoding: string, count: number): void {
    if (count > 0) this.#scrubbed.inc({ encoding }, count);
  }

  backend(backend: string, outcome: 'ok' | 'error', seconds: number): void {
    this.#backendSeconds.observe({ backend }, seconds);
    if (outcome === 'error') this.#backendErrors.inc({ backend });
  }

  evidenceCommitted(entries: readonly CommittedEntry[], seconds: number): void {
    this.#appendSeconds.observe(seconds);
    for (const e of entries) {
      this.#evidenceEntries.inc({ type: e.type });
      if (LEASE_EVENTS.has(e.type)) {
        this.#leaseEvents.inc({ event: e.type.slice('lease.'.length) });
        if (e.type === 'lease.revoked' && reasonOf(e) === 'trust') this.#trustRevocations.inc();
      } else if (e.type === 'approval.decided') {
        const d = parse(e) as { approval?: { state?: unknown }; vote?: { decision_time_ms?: unknown } } | undefined;
        if (typeof d?.approval?.state === 'string') this.#approvalDecisions.inc({ state: d.approval.state });
        if (typeof d?.vote?.decision_time_ms === 'number') this.#approvalDecisionSeconds.observe(d.vote.decision_time_ms / 1000);
      } else if (e.type === 'trust.changed') {
        const d = parse(e) as { trust?: { old?: { score?: unknown }; new?: { score?: unknown } } } | undefined;
        const before = d?.trust?.old?.score;
        const after = d?.trust?.new?.score;
        if (typeof before === 'number' && typeof after === 'number') this.#trustChanges.inc({ direction: after < before ? 'down' : after > before ? 'up' : 'same' });
      }
    }
  }

  witnessFailure(witness: string): void {
    this.#witnessFailures.inc({ witness });
  }

  credentialIssued(action: string): void {
    this.#credentialsIssued.inc({ action });
  }

  revokeFailure(backend: string): void {
    this.#revokeFailures.inc({ backend });
  }
}

function parse(e: CommittedEntry): unknown {
  try {
    return JSON.parse(Buffer.from(e.bytes).toString('utf8'));
  } catch {
    return undefined;
  }
}

function reasonOf(e: CommittedEntry): unknown {
  return (parse(e) as { reason?: unknown } | undefined)?.reason;
}
