import type { BrokerConfig } from './config/config-types';
import { checkKeyFilePermissions } from './identity/key-files';
import { systemClock, type Clock } from './lib/clock';
import { IdSource } from './lib/ids';
import { createLogger, type Logger } from './lib/logger';
import { compileHttpActions } from './broker/http-actions';
import { InvokeService, type InvokeHooks } from './broker/invoke-service';
import { InvokesInFlight } from './broker/invokes-in-flight';
import { ByteBudget } from './brokered-http/response-budget';
import { DenialFolder } from './broker/denial-folder';
import { CredentialRevoker } from './broker/credential-revoker';
import { CredentialSweeper } from './broker/credential-sweeper';
import { credentialBackendOf, type DynamicCredentialSource } from './broker/dynamic-credentials';
import { LeaseService, leaseDraft } from './broker/lease-service';
import { checkPostgresGrants } from './broker/postgres-grant-check';
import type { Approvals } from './broker/approval-gate';
import { TrustRevocation } from './broker/trust-revocation';
import { BrokerSignals } from './trust/broker-signals';
import { CredentialMisuse } from './broker/credential-misuse';
import { TrustService } from './trust/trust-service';
import { trustHandlers } from './transport/grpc/handlers/trust-handlers';
import { rotationHandlers } from './transport/grpc/handlers/rotation-handlers';
import { RotationService, type RotationHooks } from './rotation/rotation-service';
import type { Resolver } from './brokered-http';
import type { Ledger } from './evidence/ledger/ledger';
import { settleOpenIntents } from './evidence/ledger/unknown-outcomes';
import { openEvidence } from './evidence/ledger/wire';
import { BrokerError } from './lib/errors';
import { BackendRegistry, type RemoteBackendFactories } from './backends/registry';
import { remoteBackendFactories } from './backends/remote';
import { evidenceHandlers } from './transport/grpc/handlers/evidence-handlers';
import { consoleReadHandlers } from './transport/grpc/handlers/console-read-handlers';
import { evidenceKeyHandlers } from './transport/grpc/handlers/evidence-key-handlers';
import { keyFilesOf as evidenceKeyFilesOf } from './evidence/ledger/key-history';
import { LeaseReaper } from './leases/lease-reaper';
import { createPolicyEngine, loadPolicySet, PolicyLoadError, type PolicyEngine, type PolicyProblem } from './policy';
import { PolicyReloader } from './broker/policy-reload';
import { policyHandlers } from './transport/grpc/handlers/policy-handlers';
import type { Store } from './store/store';
import { openStore } from './store/open-store';
import { invokeHandlers } from './transport/grpc/handlers/invoke-handlers';
import { approvalHandlers } from './transport/grpc/handlers/approval-handlers';
import { ApprovalService } from './approvals/approval-service';
import { seatsFilled } from './approvals/four-eyes';
import { BreakGlassService } from './breakglass/breakglass-service';
import { SqliteOverrideStore } from './breakglass/breakglass-store';
import { breakglassHandlers } from './transport/grpc/handlers/breakglass-handlers';
import { SqliteStore } from './store/sqlite/sqlite-store';
import { leaseHandlers } from './transport/grpc/handlers/lease-handlers';
import type { HealthService } from './transport/grpc/health-service';
import { startGrpc, type ConnectionTimeouts, type GrpcServers, type Handlers } from './transport/grpc/server';
import { PromMetrics, buildVersion, startMetricsServer, type MetricsServer } from './metrics';
import { timedHandlers } from './metrics/timed-handlers';

export interface AppOptions {
  config: BrokerConfig;
  clock?: Clock;
  log?: Logger;
  /** Tests only: pause a rotation between its read and its fenced write. */
  rotationHooks?: RotationHooks;
  /** A store to use instead of the configured one (tests inject faults this way). */
  store?: Store;
  /** DNS for brokered calls (tests point hostnames at chosen addresses). */
  resolver?: Resolver;
  /** false: run without the evidence ledger (only for benchmarks measuring its cost). */
  evidence?: boolean;
  /** Replaces or adds handlers; tests use it to inject faults through the real transport. */
  handlerOverrides?: Handlers;
  /**
   * Approvals for the decision step: the gate that opens and checks them and
   * the statement that consumes one in a grant's transaction. Absent:
   * approval obligations deny.
   */
  approvals?: Approvals;
  /** Tests only: hooks into a brokered call (a barrier before a use is spent) and a grant (before its transaction). */
  hooks?: InvokeHooks;
  /** Benchmarks only: wraps each policy engine loaded (at start and on reload), e.g. to time its decisions. */
  wrapPolicy?: (engine: PolicyEngine) => PolicyEngine;
  /** How often the lease reaper runs; default 1 s (tests shorten it). */
  reaperIntervalMs?: number;
  /** The first wait before the grants of an unreachable postgres backend are checked again; default 30 s (tests shorten it). */
  grantCheckRetryMs?: number;
  /** Connection timeouts on both ports; default CONNECTION_TIMEOUTS (tests shorten them). */
  connectionTimeouts?: Partial<ConnectionTimeouts>;
  /** How remote backends (vault, aws-secrets-manager) are opened; the real clients by default. */
  backendFactories?: RemoteBackendFactories;
  /**
   * Where dynamic credential backends come from (vault_dynamic actions); the
   * configured backends by default. Tests inject a fault injector here.
   */
  dynamicCredentials?: DynamicCredentialSource;
  /** The orphan credential sweeper: how often it runs after the first sweep at start (default 5 min), and its grace for pending credentials (default 2 min). */
  sweeper?: { intervalMs?: number; graceMs?: number };
  /** The credential revoker's backoff (defaults 1 s doubling to 5 min) and its probe of an unreachable backend (default every 2 s); tests lengthen or shorten them. */
  revoker?: { minDelayMs?: number; maxDelayMs?: number; probeMs?: number };
}

export interface App {
  config: BrokerConfig;
  log: Logger;
  store: Store;
  ledger?: Ledger;
  leases: LeaseService;
  /** Each agent's trust: score, tier, decay, signals, history. */
  trust: TrustService;
  /** The broker's own trust signals (tests await `settled()`). */
  brokerSignals: BrokerSignals;
  /** The policy engine serving now (tests read its decision-cache stats); ReloadPolicies and SIGHUP swap it. */
  readonly policy: PolicyEngine;
  /** ReloadPolicies: validate, record policy.loaded, swap, re-evaluate active leases. */
  policies: PolicyReloader;
  reaper: LeaseReaper;
  /**
   * Approvals (the ApprovalGate RequestLease opens and checks them through;
   * `recheckForAgent` re-decides open ones after a trust drop).
   */
  approvals: ApprovalService;
  /**
   * Break-glass overrides (absent without an evidence log on the SQLite
   * store); `endForAgent` ends an agent's overrides when it is quarantined.
   */
  breakglass?: BreakGlassService;
  /** Revokes dynamic credentials no lease owns (at start and every period). */
  sweeper: CredentialSweeper;
  port: number;
  healthPort?: number;
  /** The Prometheus metrics (one registry per app); served on metricsPort when metrics_listen is set. */
  metrics: PromMetrics;
  metricsPort?: number;
  /** grpc.health.v1 (both ports). */
  health: HealthService;
  /** Every configured backend, with its breaker and the read cache. */
  backends: BackendRegistry;
  /** Brokered calls in flight (limits.invokes_in_flight, server.invokes_in_flight). */
  inFlight: InvokesInFlight;
  /** Buffered upstream response bytes (server.buffered_response_bytes). */
  responseBudget: ByteBudget;
  close(): Promise<void>;
}


export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Every private key file the daemon reads. */
export function keyFilesOf(config: BrokerConfig): string[] {
  const evidenceKeys = evidenceKeyFilesOf(config.evidence.signingKey);
  const files = [config.tls.key, evidenceKeys.key, evidenceKeys.prev, evidenceKeys.next];
  for (const b of Object.values(config.backends)) {
    if (b.kind === 'local') files.push(b.keyFile);
    if (b.kind === 'vault') files.push(b.auth.kind === 'token_file' ? b.auth.tokenFile : b.auth.secretIdFile);
  }
  return files;
}

/**
 * Loads the policy set and checks that every approval obligation names a
 * configured approval group; every problem, with file and line, in one PolicyLoadError.
 */
export async function loadPolicies(config: Pick<BrokerConfig, 'policies' | 'approvals'> & Partial<Pick<BrokerConfig, 'policy'>>, log?: Logger): Promise<PolicyEngine> {
  const set = await loadPolicySet(config.policies);
  const problems: PolicyProblem[] = [];
  for (const p of set.policies) {
    for (const group of p.obligations.approvals) {
      if (!Object.hasOwn(config.approvals, group)) problems.push({ file: p.file, line: p.line, policy: p.id, message: `asks for approval:${group}, but approvals.${group} is not configured` });
    }
    // Four eyes across groups: an approval a permit asks for must be one its groups' approvers can give.
    const groups = p.obligations.approvals.filter((g) => Object.hasOwn(config.approvals, g)).map((g) => config.approvals[g]!);
    if (groups.length > 1 && !seatsFilled(groups, groups.flatMap((g) => g.approvers))) {
      const seats = groups.reduce((n, g) => n + g.required, 0);
      problems.push({
        file: p.file,
        line: p.line,
        policy: p.id,
        message: `asks for ${p.obligations.approvals.map((g) => `approval:${g}`).join(', ')}, which needs ${seats} different approvers (one approver counts in one group): its groups' approvers cannot give that`,
      });
    }
  }
  if (problems.length) throw new PolicyLoadError(config.policies, problems);
  return createPolicyEngine(set, {
    ...(config.policy ? { cacheBytes: config.policy.cacheBytes } : {}),
    onError: (err) => log?.error({ err }, 'policy evaluation failed; denied'),
  });
}

function mergeHandlers(base: Handlers, extra: Handlers | undefined): Handlers {
  if (!extra) return base;
  const out: Handlers = { ...base };
  for (const [svc, methods] of Object.entries(extra) as Array<[keyof Handlers, NonNullable<Handlers[keyof Handlers]>]>) {
    out[svc] = { ...(base[svc] ?? {}), ...methods };
  }
  return out;
}

/**
 * The composition root: the daemon, the CLI and the tests all build the broker
 * here. Nothing else constructs stores, clocks or loggers.
 */
export async function buildApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ level: config.logLevel });
  // One pool of CSPRNG bytes for every id the daemon makes (lease, request, evidence entry).
  const ids = new IdSource();
  if (config.devMode) {
    log.warn('DEV MODE: key-file permission checks are off. Never run dev mode outside a workstation.');
  } else {
    const problems = checkKeyFilePermissions(keyFilesOf(config));
    if (problems.length) throw new StartupError(`refusing to start: ${problems.join('; ')}`);
  }
  const wrap = opts.wrapPolicy ?? ((e: PolicyEngine) => e);
  let policy = wrap(await loadPolicies(config, log));
  const specs = compileHttpActions(config);
  const store =
    opts.store ??
    (await openStore(config).catch((err: unknown) => {
      if (err instanceof BrokerError && err.kind === 'failed_precondition') throw new StartupError(`refusing to start: ${err.message}`);
      throw err;
    }));
  // One registry per app (never prom-client's global one); the hooks below feed it.
  const metrics = new PromMetrics({ version: buildVersion(), agents: Object.keys(config.agents), agentLabelLimit: config.metrics.agentLabelLimit });
  let ledger: Ledger | undefined;
  if (opts.evidence !== false) {
    try {
      // Creates the signing key if missing; refuses to start if the stored tree does not match its last checkpoint.
      ledger = await openEvidence({ config, store, clock, log, ids, metrics });
      await ledger.recordPolicyLoaded(policy.version, policy.policySet.policies.map((p) => p.id));
      // Brokered calls whose invoke.result a stop lost get invoke.unknown, durably, before anything is served.
      await settleOpenIntents({ store, evidence: ledger, log });
    } catch (err) {
      await ledger?.close();
      await store.close();
      if (err instanceof BrokerError && err.kind === 'failed_precondition') throw new StartupError(`refusing to start: ${err.message}`);
      throw err;
    }
  }
  const evidence = ledger ? { evidence: ledger } : {};
  // A trust drop re-decides the agent's live leases (`revocation`, built below once leases exist; called only later).
  const trust: TrustService = new TrustService({ config, store, clock, log, ...evidence, onDrop: (drop, l): Promise<number> => revocation.reevaluate(drop, l) });
  const brokerSignals = new BrokerSignals({ trust, config, clock, log });
  const denials = ledger
    ? new DenialFolder({ sink: ledger, clock, log, bytesPerMinute: (a) => (config.agents[a] ?? config).limits.evidenceBytesPerMinute, onDenial: (a) => brokerSignals.denied(a) })
    : undefined;
  // A credential used against the broker upstream ends its lease (`misuse`, built below once leases exist; called only later).
  const secrets = new BackendRegistry({
    config,
    clock,
    log,
    factories: opts.backendFactories ?? remoteBackendFactories,
    metrics,
    onCredentialMisuse: (handle, what) => misuse.report(handle, what),
  });
  const credentialSource = opts.dynamicCredentials ?? secrets.credentialSource(config.actions);
  // Revokes the credentials ended leases owe upstream, retrying failures (resumed after a restart).
  const revoker = new CredentialRevoker({ store, source: credentialSource, clock, log, metrics, ...evidence, ...(opts.reaperIntervalMs !== undefined ? { intervalMs: opts.reaperIntervalMs } : {}), ...opts.revoker });
  const credentials = { credentials: { source: credentialSource, revoker } };
  // Requests for approval, their votes and expiry; the consume runs in the lease-issue transaction.
  const approvals = new ApprovalService({ config, store, clock, ids, log, ...evidence, ...(opts.reaperIntervalMs !== undefined ? { intervalMs: opts.reaperIntervalMs } : {}) });
  const approvalWiring: Approvals | undefined = opts.approvals ?? (store.statements ? { gate: approvals, statements: store.statements } : undefined);
  // Break-glass: every step commits with its entry, so it needs the log on the store's own database.
  const breakglass: BreakGlassService | undefined =
    ledger?.appendWith && store instanceof SqliteStore
      ? new BreakGlassService({
          config,
          store: new SqliteOverrideStore(store.db),
          clock,
          ids,
          evidence: ledger,
          log,
          // Revoking an override revokes the leases granted under it, as an operator's RevokeLeases would.
          revokeLeases: async (leaseIds, reason, by, l): Promise<number> => (await leases.revokeIds(leaseIds, reason, by, l)).length,
          ...(opts.reaperIntervalMs !== undefined ? { intervalMs: opts.reaperIntervalMs } : {}),
        })
      : undefined;
  const leases = new LeaseService({ config, store, policy: () => policy, clock, ids, trust, metrics, ...evidence, ...(denials ? { denials } : {}), ...credentials, ...(opts.hooks ? { hooks: opts.hooks } : {}), ...(approvalWiring ? { approvals: approvalWiring } : {}), ...(breakglass ? { overrides: breakglass } : {}) });
  const misuse: CredentialMisuse = new CredentialMisuse({ store, leases, signals: brokerSignals, log });
  // A trust drop re-decides the agent's live leases and its pending approvals; at quarantine its break-glass overrides end.
  const revocation: TrustRevocation = new TrustRevocation({ config, clock, store, leases, revoker, approvals, ...(breakglass ? { overrides: breakglass } : {}) });
  // Bounded work in flight (per agent and daemon-wide) and the daemon-wide buffer for upstream responses.
  const inFlight = new InvokesInFlight(config.server.invokesInFlight);
  const responseBudget = new ByteBudget(config.server.bufferedResponseBytes);
  const invoke = new InvokeService({ config, store, leases, specs, secrets, clock, ids, responseBudget, metrics, ...evidence, ...(denials ? { denials } : {}), ...(opts.resolver ? { resolver: opts.resolver } : {}), ...(opts.hooks ? { hooks: opts.hooks } : {}), signals: brokerSignals });
  const reaper = new LeaseReaper({
    store,
    clock,
    log,
    // Expiry is recorded first; then the credential an expired lease carries is owed a revocation.
    onExpired: async (l) => {
      if (ledger) await leases.recordEnded(leaseDraft('lease.expired', l), log);
      revoker.owe(l, { by: 'broker' });
    },
  }, opts.reaperIntervalMs);
  try {
    // Leases that expired while the daemon was down are expired before it serves.
    await reaper.tick();
  } catch (err) {
    await ledger?.close();
    await store.close();
    throw err;
  }
  // Orphan credentials (a grant a crash interrupted, or one nobody recorded) are swept at start
  // and every period; the pending rows the last process left are noted before anything is served.
  const reloader = new PolicyReloader({
    config,
    store,
    leases,
    clock,
    log,
    load: async () => wrap(await loadPolicies(config, log)),
    current: () => policy,
    swap: (next) => {
      policy = next;
    },
    ...evidence,
    revoker,
  });
  const sweeper = new CredentialSweeper({
    store,
    source: credentialSource,
    backends: [...new Set(Object.values(config.actions).flatMap((a) => credentialBackendOf(a) ?? []))],
    clock,
    log,
    ...evidence,
    ...(opts.sweeper?.intervalMs !== undefined ? { intervalMs: opts.sweeper.intervalMs } : {}),
    ...(opts.sweeper?.graceMs !== undefined ? { graceMs: opts.sweeper.graceMs } : {}),
  });
  await sweeper.start();
  // Entries the log refused earlier and is still owed: a last try before the log closes (at stop, or a failed start).
  const drainLateEvidence = async (): Promise<void> => {
    await Promise.all([leases, invoke, revoker, sweeper].map((s) => s.drainLateEvidence(log)));
  };
  /** A start that fails from here on: stop what runs, record what is owed, and always close the store (and its daemon lock). */
  // Set once they serve; the one teardown below (a failed start, close()) stops what was started.
  let grpcServers: GrpcServers | undefined;
  let metricsServer: MetricsServer | undefined;
  // The grant check of postgres actions, run in the background once the daemon serves (below).
  const grantCheck: { stop: AbortController; done?: Promise<void> } = { stop: new AbortController() };
  /** Stops everything, in order; each step is safe when its part never started. */
  const teardown = async (): Promise<void> => {
    try {
      grantCheck.stop.abort();
      await reaper.stop();
      await revoker.stop();
      await sweeper.stop();
      // Ends WatchApproval streams, so the graceful stop is not held up by them.
      await approvals.stop();
      await breakglass?.stop();
      await metricsServer?.close();
      await grpcServers?.shutdown();
      // Reports stop first: a signal still in flight may revoke leases whose drops report more.
      await misuse.stop();
      await brokerSignals.settled();
      await drainLateEvidence();
      await grantCheck.done;
      await secrets.close();
      await denials?.stop();
      await ledger?.close();
    } finally {
      // Whatever failed above, the store (and the state's daemon lock) is released.
      await store.close();
      log.flush?.();
    }
  };
  // Rotation: the daemon is the only writer; a lock with a fencing token per secret, then a fenced write.
  const rotation = new RotationService({ config, rotations: store.rotations, backends: secrets, clock, log, ...evidence, ...(opts.rotationHooks ? { hooks: opts.rotationHooks } : {}) });
  try {
    await rotation.recoverAbandonedLocks();
  } catch (err) {
    await teardown();
    throw err;
  }
  let handlers: Handlers = mergeHandlers(
    mergeHandlers(
      mergeHandlers(mergeHandlers(mergeHandlers(mergeHandlers(leaseHandlers(leases, clock), invokeHandlers(invoke, inFlight)), approvalHandlers(approvals, config)), trustHandlers(trust)), breakglass ? breakglassHandlers(breakglass, config) : undefined),
      rotationHandlers(rotation),
    ),
    ledger ? mergeHandlers(evidenceHandlers(ledger), evidenceKeyHandlers(ledger)) : undefined,
  );
  handlers = mergeHandlers(handlers, policyHandlers(reloader, clock));
  handlers = mergeHandlers(handlers, consoleReadHandlers(ledger));
  // RequestLease and Invoke, timed end to end.
  handlers = timedHandlers(handlers, metrics);
  metrics.observe({
    activeLeases: async () => Promise.all(Object.keys(config.agents).map(async (agent) => ({ agent, count: await store.countActiveLeases(agent) }))),
    pendingApprovals: () => store.countPendingApprovals(),
    ...(ledger ? { evidence: () => ({ treeSize: ledger.size, checkpointAtMs: ledger.latestCheckpoint().signedAt }) } : {}),
    breakers: () => secrets.breakerStates(),
    rotations: async () => (store.rotations ? store.rotations.listRotations() : []),
    now: () => clock.now(),
  });
  let servers: GrpcServers;
  try {
    servers = grpcServers = await startGrpc({
      config,
      handlers: mergeHandlers(handlers, opts.handlerOverrides),
      log,
      clock,
      ids,
      ...(opts.connectionTimeouts ? { connectionTimeouts: opts.connectionTimeouts } : {}),
    });
  } catch (err) {
    await teardown();
    throw new StartupError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`);
  }
  if (config.metricsListen) {
    try {
      metricsServer = await startMetricsServer({ config, listen: config.metricsListen, metrics, log, ...(opts.connectionTimeouts?.tlsHandshakeMs !== undefined ? { tlsHandshakeMs: opts.connectionTimeouts.tlsHandshakeMs } : {}) });
    } catch (err) {
      await teardown();
      throw new StartupError(`cannot serve metrics on ${config.metricsListen.host}:${config.metricsListen.port}: ${(err as Error).message}`);
    }
  }
  // A backend's breaker state is its health (secretbroker.backend.<name>): SERVING only while closed.
  secrets.onStateChange = (backend, state) => servers.health.set(`secretbroker.backend.${backend}`, state === 'closed' ? 'SERVING' : 'NOT_SERVING');
  reaper.start();
  revoker.start();
  approvals.start();
  breakglass?.start();
  denials?.start();
  log.info({ port: servers.port, health_port: servers.healthPort }, 'secret-broker listening (mTLS)');
  // A postgres grant on a missing schema or table, or one the admin may not give, is logged now, not
  // found by the first agent that asks. In the background: a slow or down backend never holds up start.
  grantCheck.done = checkPostgresGrants({
    actions: config.actions,
    source: credentialSource,
    log,
    signal: grantCheck.stop.signal,
    ...(opts.grantCheckRetryMs !== undefined ? { retryMs: opts.grantCheckRetryMs } : {}),
  }).catch((err: unknown) => {
    log.warn({ err }, 'postgres: the grant check at start failed');
  });
  return {
    config,
    log,
    store,
    ...(ledger ? { ledger } : {}),
    leases,
    trust,
    brokerSignals,
    get policy() {
      return policy;
    },
    policies: reloader,
    reaper,
    approvals,
    ...(breakglass ? { breakglass } : {}),
    sweeper,
    port: servers.port,
    health: servers.health,
    backends: secrets,
    inFlight,
    responseBudget,
    metrics,
    ...(metricsServer ? { metricsPort: metricsServer.port } : {}),
    ...(servers.healthPort !== undefined ? { healthPort: servers.healthPort } : {}),
    close: teardown,
  };
}
