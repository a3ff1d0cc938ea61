import { createHash } from 'node:crypto';
import type { Metrics } from '../metrics/metrics';
import { checkCallBinding, prepareCall, sendCall, sentRequestDigest, TlsContexts, type BrokeredResponse, type HttpActionSpec, type Resolver } from '../brokered-http';
import type { ResponseBudget } from '../brokered-http/response-budget';
import type { AgentConfig, BrokerConfig } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { LeaseRecord } from '../leases/lease';
import type { Clock } from '../lib/clock';
import { BrokerError, failedPrecondition, invalidArgument, permissionDenied } from '../lib/errors';
import type { LeaseIds } from '../lib/ids';
import type { Logger } from '../lib/logger';
import type { SecretValue } from '../lib/secret-value';
import { denialDetail, explanationTrailer, type Explanation, type PolicyDecision } from '../policy';
import type { DecidedStep, DecisionStep } from './decision-step';
import type { Store } from '../store/store';
import type { DenialFolder } from './denial-folder';
import { credentialBackendOf } from './dynamic-credentials';
import type { BrokerSignals } from '../trust/broker-signals';
import { LateEvidence } from './late-evidence';
import { checkPolicyLifetime, checkPolicyUses, effectiveStatus, type GrantHooks, type LeaseService } from './lease-service';
import { checkParams, checkParamsAgree, checkPurpose, checkResource, checkStatedResource, renderResource } from './request-validation';
import type { ResolvedSecret } from '../backends/registry';
import type { Json } from './struct';

/** How often one Invoke decides again when the policy set or the trust changed under it. */
const MAX_RECHECKS = 3;

export interface InvokeInput {
  leaseId: string;
  action: string;
  resource: string;
  params: Record<string, Json>;
  method: string;
  path: string;
  query: Array<[string, string]>;
  headers: Array<[string, string]>;
  body: Buffer;
  purpose: string;
}

export interface InvokeOutcome {
  response: BrokeredResponse;
  lease: LeaseRecord;
  useNumber: number;
  evidence?: EvidenceRef;
}

export interface InvokeServiceDeps {
  config: Pick<BrokerConfig, 'actions'>;
  store: Store;
  leases: LeaseService;
  /** The decision step (default: the lease service's, so both decide alike). */
  decisions?: DecisionStep;
  /** Upstream durations and scrubbed echoes (src/metrics); default none. */
  metrics?: Pick<Metrics, 'upstream' | 'scrubbedEchoes'>;
  specs: ReadonlyMap<string, HttpActionSpec>;
  /** Reads the secret a call injects (the backend registry). */
  secrets: { resolve(secretName: string): Promise<ResolvedSecret> };
  clock: Clock;
  /** Where lease ids come from (one IdSource, built by the composition root). */
  ids: LeaseIds;
  evidence?: EvidenceSink;
  /** Folds repeated identical denials (bounded evidence per agent). */
  denials?: DenialFolder;
  /** DNS for upstream hosts; tests inject one so a hostname can resolve to a chosen address. */
  resolver?: Resolver;
  /** The daemon-wide budget of buffered upstream response bytes (server.buffered_response_bytes). */
  responseBudget?: ResponseBudget;
  /** Test hooks (through AppOptions); never set in the daemon. */
  hooks?: InvokeHooks;
  /** The broker's own trust signals (a call outside the template, an echoed secret). */
  signals?: Pick<BrokerSignals, 'raise'>;
}

export interface InvokeHooks extends GrantHooks {
  /**
   * Runs on an Invoke on a lease after every check passed and before its use is
   * spent: a test's barrier here makes concurrent Invokes race for the use.
   */
  beforeUse?: () => Promise<void>;
}

/** The resource a call renders; an error names the context field and where the call carried it. */
const renderCallResource = (action: BrokerConfig['actions'][string], context: Readonly<Record<string, string | number>>): string =>
  renderResource(action, context, (f) => `context.${f} (from ${action.http?.context[f] ?? 'the call'})`);

/**
 * A denial of an Invoke: PERMISSION_DENIED, the explanation as JSON in the
 * trailer (under 4 KiB, cut with a marker; the hint only for a quarantined
 * agent), the hint as the status detail.
 */
export function invokeDenied(explanation: Explanation): BrokerError {
  return permissionDenied(denialDetail(explanation), { 'secretbroker-explanation': explanationTrailer(explanation) });
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Retrying an invoke.result the log refused: first after this long, doubling up to the max. */

/**
 * Performs brokered calls. Order per use: check the request against the
 * action's template (nothing leaves on a bad request) → check it is exactly
 * what the lease covers → re-check status, trust tier and policy → spend one
 * use atomically → record invoke.intent durably → inject the secret and send
 * → record invoke.result.
 */
export class InvokeService {
  private readonly tlsContexts = new TlsContexts();
  /** invoke.result drafts the log refused; what is given up is settled as invoke.unknown at the next start. */
  private readonly late: LateEvidence | undefined;
  private readonly decisions: DecisionStep;

  constructor(private readonly deps: InvokeServiceDeps) {
    this.decisions = deps.decisions ?? deps.leases.decisions;
    this.late = deps.evidence ? new LateEvidence({ sink: deps.evidence, clock: deps.clock }, 'invoke.result', 'the intent is left to invoke.unknown at the next start') : undefined;
  }

  /** At shutdown: a last try to record the entries the evidence log refused earlier (LateEvidence.drain). */
  async drainLateEvidence(log: Logger): Promise<void> {
    await this.late?.drain(log);
  }

  /**
   * An Invoke on a lease decided again, with the lease's own inputs (its context and params),
   * under the policy and trust of now; refused (and the denial recorded) unless allowed.
   */
  private async recheck(agent: AgentConfig, action: BrokerConfig['actions'][string], leased: LeaseRecord, log: Logger): Promise<DecidedStep> {
    const step = await this.decisions.decide({
      call: 'invoke',
      agent,
      action,
      resource: leased.resource,
      context: leased.context,
      params: leased.params,
      purpose: leased.purpose,
      lease: leased,
    });
    if (step.verdict !== 'allow') {
      log.info({ lease_id: leased.id, tier: step.trust.tier }, 'invoke denied on re-check');
      await this.decisions.recordDenial(step);
      throw invokeDenied(step.explanation);
    }
    checkPolicyLifetime(leased, step.policy, this.deps.clock.now());
    checkPolicyUses(leased.maxUses - leased.usesLeft + 1, step.policy);
    return step;
  }

  async invoke(agent: AgentConfig, req: InvokeInput, log: Logger, signal?: AbortSignal): Promise<InvokeOutcome> {
    const leased = req.leaseId ? await this.deps.leases.get(agent, req.leaseId) : undefined;
    const actionName = leased?.action ?? req.action;
    if (!actionName) throw invalidArgument('lease_id', 'required (or action and resource for a one-shot call)');
    if (leased && req.action && req.action !== leased.action) throw failedPrecondition('action differs from the lease');
    const action = this.deps.config.actions[actionName];
    if (!action) throw invalidArgument('action', `"${actionName.slice(0, 64)}" is not a configured action`);
    if (credentialBackendOf(action)) throw failedPrecondition(`${actionName} hands out a database credential; it has no brokered call`);
    const spec = this.deps.specs.get(actionName);
    if (!spec) throw invalidArgument('action', `${actionName} is not an HTTP action; request a lease for its credential instead`);

    // 1. The call must fit the template before anything else happens.
    const prepared = this.withinTemplate(agent, actionName, () => prepareCall(spec, { method: req.method, path: req.path, query: req.query, headers: req.headers, body: req.body }));

    let lease: LeaseRecord;
    // A one-shot lease is stored with its one use already spent (nobody else can know its id).
    let oneShot: { lease: LeaseRecord; useNumber: number } | undefined;
    /** The re-decision of an Invoke on a lease, whose @max_uses the spent use must fit. */
    let recheck: PolicyDecision | undefined;
    let step: DecidedStep | undefined;
    if (leased) {
      const status = effectiveStatus(leased, this.deps.clock.now());
      if (status !== 'active') throw failedPrecondition(`lease is ${status}`);
      // 2. Exactly what was decided: every declared context value must match, and so the resource
      // the call renders (a stated resource must be the lease's).
      this.withinTemplate(agent, actionName, () => {
        if (req.resource && req.resource !== leased.resource) {
          throw failedPrecondition(`resource differs from the lease: ${JSON.stringify(req.resource.slice(0, 256))} is not ${JSON.stringify(leased.resource)}; leave it empty`);
        }
        checkCallBinding(prepared, { context: leased.context });
        const rendered = renderCallResource(action, prepared.context);
        if (rendered !== leased.resource) throw failedPrecondition(`this call is on ${JSON.stringify(rendered)}, but the lease covers ${JSON.stringify(leased.resource)}`);
      });
      // 3. Re-check trust and policy on every use (cached, so cheap when nothing changed).
      step = await this.recheck(agent, action, leased, log);
      recheck = step.policy;
      lease = leased;
    } else {
      oneShot = await this.oneShotLease(agent, action, req, prepared.context, log);
      lease = oneShot.lease;
    }

    // 4. Spend one use atomically: of 50 concurrent Invokes on a one-use lease exactly one gets here.
    if (!oneShot) await this.deps.hooks?.beforeUse?.();
    let used = oneShot;
    for (let attempt = 1; !used && step; attempt++) {
      // In the transaction that spends it, what the re-check decided on must still hold: a policy
      // reload or a trust drop that committed since is decided again, never slipped past.
      const spent = await this.deps.leases.useIfCurrent(agent, step, lease.id, this.deps.clock.now());
      if (spent !== 'stale') {
        used = spent;
        break;
      }
      if (attempt === MAX_RECHECKS) throw failedPrecondition('the policy set or the agent\'s trust kept changing while this call was checked; nothing was sent; call again');
      step = await this.recheck(agent, action, lease, log);
      recheck = step.policy;
    }
    if (!used) {
      const now = await this.deps.store.getLease(lease.id);
      throw failedPrecondition(`lease is ${now ? effectiveStatus(now, this.deps.clock.now()) : 'gone'}`);
    }
    // Again with the use actually spent: concurrent uses all passed the check above.
    if (recheck) checkPolicyUses(used.useNumber, recheck);
    const idempotencyKey = sha256(`secret-broker/idempotency/v1\0${lease.id}\0${used.useNumber}`).slice(0, 32);
    const requestDigest = sentRequestDigest(prepared, spec, idempotencyKey);

    // 5. Evidence before effect. If the log cannot take the intent, this throws UNAVAILABLE: the use
    // stays spent and nothing is resolved or sent (fail closed).
    const [intent] = (await this.deps.evidence?.append([
      {
        type: 'invoke.intent',
        agent: agent.name,
        action: lease.action,
        resource: lease.resource,
        lease: { id: lease.id, use: used.useNumber, expires_at: new Date(lease.expiresAt).toISOString() },
        request: { method: prepared.method, path_template: prepared.pathTemplate, digest: `sha256:${requestDigest}` },
        idempotency_key: idempotencyKey,
      },
    ])) ?? [];

    // 6. Inject and send. The intent is durable from here on, so every way out records an outcome:
    // invoke.result now, or (when the log cannot take it) later by retryResult, or invoke.unknown at
    // the next start if the broker stops first.
    const outcomeBase = { type: 'invoke.result', agent: agent.name, action: lease.action, lease: { id: lease.id, use: used.useNumber } } as const;
    let response: BrokeredResponse;
    let secret: SecretValue | undefined;
    // Which version of which secret was injected (never the value): evidence names it.
    let injected: Record<string, unknown> | undefined;
    let upstreamStarted: number | undefined;
    try {
      const read = await this.deps.secrets.resolve(spec.auth.secret);
      secret = read.value;
      injected = { name: spec.auth.secret, backend: read.backend, version: read.version, ...(read.versionId !== undefined ? { version_id: read.versionId } : {}) };
      upstreamStarted = performance.now();
      response = await sendCall(prepared, spec, secret, {
        idempotencyKey,
        clock: this.deps.clock,
        tlsContexts: this.tlsContexts,
        ...(this.deps.resolver ? { resolver: this.deps.resolver } : {}),
        ...(this.deps.responseBudget ? { responseBudget: this.deps.responseBudget } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (upstreamStarted !== undefined) this.deps.metrics?.upstream(lease.action, 'error', (performance.now() - upstreamStarted) / 1000);
      const failed: EvidenceDraft = { ...outcomeBase, outcome: 'error', error: err instanceof BrokerError ? err.kind : 'internal', ...(secret ? {} : { sent: false }), ...(injected ? { secret: injected } : {}) };
      await this.late?.appendOrKeep(failed, log, { lease_id: lease.id, use: used.useNumber }, 'could not record invoke.result; retrying in the background');
      throw err;
    } finally {
      secret?.wipe();
    }
    this.deps.metrics?.upstream(lease.action, 'ok', (performance.now() - upstreamStarted!) / 1000);
    for (const [encoding, count] of Object.entries(response.scrubbedIn)) this.deps.metrics?.scrubbedEchoes(encoding, count);
    const resultDigest = sha256(response.body);
    const ok: EvidenceDraft = {
      ...outcomeBase,
      outcome: 'ok',
      status_code: response.statusCode,
      // A digest of what the agent receives: the scrubbed body, never the raw upstream bytes.
      response_digest: `sha256:${resultDigest}`,
      latency_ms: response.latencyMs,
      redactions: response.scrubbed,
      ...(injected ? { secret: injected } : {}),
    };
    let result: EvidenceRef | undefined;
    try {
      [result] = (await this.deps.evidence?.append([ok])) ?? [];
    } catch (err) {
      // Invariant 3: a failed append fails the request with UNAVAILABLE. The call did reach the
      // upstream, so say so (an agent that retries blindly would repeat it under a new use), and
      // record the result once the log takes writes again; the agent never sees this response.
      log.error({ err, lease_id: lease.id, use: used.useNumber }, 'could not record invoke.result; the call fails with UNAVAILABLE');
      this.retryResult({ ...ok, delivered: false }, log);
      throw new BrokerError('unavailable', 'evidence log is unavailable: the call was sent upstream, but its result could not be recorded', { cause: err });
    }
    log.info({ lease_id: lease.id, use: used.useNumber, status: response.statusCode, latency_ms: response.latencyMs, scrubbed: response.scrubbed }, 'brokered call done');
    if (response.scrubbed > 0) this.deps.signals?.raise(agent.name, 'broker.secret_echo', `${lease.action}: the upstream echoed the injected secret (${response.scrubbed} scrubbed)`);
    return { response, lease: used.lease, useNumber: used.useNumber, ...(result ?? intent ? { evidence: (result ?? intent)! } : {}) };
  }

  /** A refusal of `check` (the template, or what the lease binds) also raises broker.outside_template. */
  private withinTemplate<T>(agent: AgentConfig, action: string, check: () => T): T {
    try {
      return check();
    } catch (err) {
      if (err instanceof BrokerError) this.deps.signals?.raise(agent.name, 'broker.outside_template', `${action}: ${err.message.slice(0, 200)}`);
      throw err;
    }
  }

  private retryResult(draft: EvidenceDraft, log: Logger): void {
    this.late?.push(draft, log);
  }

  /**
   * A one-shot call is decided on the spot and runs under a one-use lease of
   * its own. The lease is stored with that use already spent (status
   * exhausted, use number 1), in the same commit as its `decision` and
   * `lease.issued` entries: one fsync where issue-then-use took three, and no
   * other request can spend a use of a lease whose id nobody has yet.
   */
  private async oneShotLease(
    agent: AgentConfig,
    action: BrokerConfig['actions'][string],
    req: InvokeInput,
    context: Readonly<Record<string, string | number>>,
    log: Logger,
  ): Promise<{ lease: LeaseRecord; useNumber: number }> {
    // The broker renders the resource from the call; a stated one must be exactly that (before any decision).
    if (req.resource) checkResource(req.resource);
    const purpose = checkPurpose(req.purpose);
    const params = checkParams(req.params);
    checkParamsAgree(action, params, context);
    const resource = checkStatedResource(req.resource, renderCallResource(action, context));
    // Every decision is evidence, denials included (folded when they repeat).
    const step = await this.decisions.decide({ call: 'invoke', agent, action, resource, context, params, purpose, grant: 'one-shot' });
    if (step.verdict !== 'allow') {
      await this.decisions.recordDenial(step);
      throw invokeDenied(step.explanation);
    }
    const { policy: decision, trust } = step;
    const now = this.deps.clock.now();
    const ttl = step.grant!.ttlMs;
    const lease: LeaseRecord = {
      id: this.deps.ids.newLeaseId(now),
      agent: agent.name,
      action: req.action,
      resource,
      context: { ...context },
      params,
      purpose,
      status: 'active',
      issuedAt: now,
      expiresAt: now + ttl,
      maxExpiresAt: now + ttl,
      maxUses: step.grant!.uses,
      usesLeft: step.grant!.uses,
      policyVersion: decision.policyVersion,
      policyIds: decision.determining.map((d) => d.id),
      tier: trust.tier,
      updatedAt: now,
    };
    const row: LeaseRecord = { ...lease, status: 'exhausted', usesLeft: 0 };
    // With a budget its amount is reserved in the same commit, the limit checked again there.
    const stored = await this.deps.leases.issueOneShot(lease, row, step, log);
    if ('overBudget' in stored) {
      await this.decisions.recordDenial(stored.overBudget);
      throw invokeDenied(stored.overBudget.explanation);
    }
    return { lease: row, useNumber: 1 };
  }
}
