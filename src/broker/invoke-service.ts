import { createHash } from 'node:crypto';
import { checkCallBinding, prepareCall, sendCall, TlsContexts, type BrokeredResponse, type HttpActionSpec, type Resolver } from '../brokered-http';
import type { AgentConfig, BrokerConfig } from '../config/config-types';
import type { EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { LeaseRecord } from '../leases/lease';
import type { Clock } from '../lib/clock';
import { BrokerError, failedPrecondition, invalidArgument, permissionDenied } from '../lib/errors';
import { newLeaseId } from '../lib/ids';
import type { Logger } from '../lib/logger';
import type { Explanation, PolicyDecision } from '../policy';
import type { Store } from '../store/store';
import { effectiveStatus, type LeaseService } from './lease-service';
import { checkResource } from './request-validation';
import type { SecretResolver } from './secret-resolver';
import type { Json } from './struct';

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
  specs: ReadonlyMap<string, HttpActionSpec>;
  secrets: SecretResolver;
  clock: Clock;
  evidence?: EvidenceSink;
  /** DNS for upstream hosts; tests inject one so a hostname can resolve to a chosen address. */
  resolver?: Resolver;
}

/** A denial of an Invoke: PERMISSION_DENIED, the explanation as JSON in the trailer, the hint as the status detail. */
export function invokeDenied(explanation: Explanation): BrokerError {
  return permissionDenied(explanation.hint || explanation.summary, { 'secretbroker-explanation': JSON.stringify(explanation) });
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/**
 * Performs brokered calls. Order per use: check the request against the
 * action's template (nothing leaves on a bad request) → check it is exactly
 * what the lease covers → re-check status, trust tier and policy → spend one
 * use atomically → record invoke.intent durably → inject the secret and send
 * → record invoke.result.
 */
export class InvokeService {
  private readonly tlsContexts = new TlsContexts();

  constructor(private readonly deps: InvokeServiceDeps) {}

  async invoke(agent: AgentConfig, req: InvokeInput, log: Logger, signal?: AbortSignal): Promise<InvokeOutcome> {
    const leased = req.leaseId ? await this.deps.leases.get(agent, req.leaseId) : undefined;
    const actionName = leased?.action ?? req.action;
    if (!actionName) throw invalidArgument('lease_id', 'required (or action and resource for a one-shot call)');
    if (leased && req.action && req.action !== leased.action) throw failedPrecondition('action differs from the lease');
    const action = this.deps.config.actions[actionName];
    if (!action) throw invalidArgument('action', `"${actionName.slice(0, 64)}" is not a configured action`);
    const spec = this.deps.specs.get(actionName);
    if (!spec) throw invalidArgument('action', `${actionName} is not an HTTP action; request a lease for its credential instead`);

    // 1. The call must fit the template before anything else happens.
    const prepared = prepareCall(spec, { method: req.method, path: req.path, query: req.query, headers: req.headers, body: req.body });

    let lease: LeaseRecord;
    if (leased) {
      const status = effectiveStatus(leased, this.deps.clock.now());
      if (status !== 'active') throw failedPrecondition(`lease is ${status}`);
      if (req.resource && req.resource !== leased.resource) throw failedPrecondition('resource differs from the lease');
      // 2. Exactly what was decided: every declared context value must match.
      checkCallBinding(prepared, { context: leased.context });
      // 3. Re-check trust and policy on every use (cached, so cheap when nothing changed).
      const trust = await this.deps.leases.trustOf(agent.name);
      const decision = this.deps.leases.decide(agent, leased.action, leased.resource, { ...leased.context }, {}, trust);
      if (decision.decision === 'deny' || decision.obligations.approvals.length > 0) {
        log.info({ lease_id: leased.id, tier: trust.tier }, 'invoke denied on re-check');
        throw invokeDenied(decision.explanation);
      }
      lease = leased;
    } else {
      lease = await this.oneShotLease(agent, req, prepared.context);
    }

    // 4. Spend one use atomically: of 50 concurrent Invokes on a one-use lease exactly one gets here.
    const used = await this.deps.store.useLease(lease.id, agent.name, this.deps.clock.now());
    if (!used) {
      const now = await this.deps.store.getLease(lease.id);
      throw failedPrecondition(`lease is ${now ? effectiveStatus(now, this.deps.clock.now()) : 'gone'}`);
    }
    const idempotencyKey = sha256(`secret-broker/idempotency/v1\0${lease.id}\0${used.useNumber}`).slice(0, 32);
    const requestDigest = sha256(Buffer.concat([Buffer.from(`${prepared.method} ${prepared.url}\n`), prepared.body]));

    // 5. Evidence before effect.
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

    // 6. Inject and send.
    const secret = await this.deps.secrets.resolve(spec.auth.secret);
    let response: BrokeredResponse;
    try {
      response = await sendCall(prepared, spec, secret, {
        idempotencyKey,
        clock: this.deps.clock,
        tlsContexts: this.tlsContexts,
        ...(this.deps.resolver ? { resolver: this.deps.resolver } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      await this.deps.evidence
        ?.append([{ type: 'invoke.result', agent: agent.name, action: lease.action, lease: { id: lease.id, use: used.useNumber }, outcome: 'error', error: err instanceof BrokerError ? err.kind : 'internal' }])
        .catch((e: unknown) => log.error({ err: e }, 'could not record invoke.result'));
      throw err;
    } finally {
      secret.wipe();
    }
    const resultDigest = sha256(response.body);
    const [result] =
      (await this.deps.evidence?.append([
        {
          type: 'invoke.result',
          agent: agent.name,
          action: lease.action,
          lease: { id: lease.id, use: used.useNumber },
          outcome: 'ok',
          status_code: response.statusCode,
          // A digest of what the agent receives: the scrubbed body, never the raw upstream bytes.
          response_digest: `sha256:${resultDigest}`,
          latency_ms: response.latencyMs,
          redactions: response.scrubbed,
        },
      ])) ?? [];
    log.info({ lease_id: lease.id, use: used.useNumber, status: response.statusCode, latency_ms: response.latencyMs, scrubbed: response.scrubbed }, 'brokered call done');
    return { response, lease: used.lease, useNumber: used.useNumber, ...(result ?? intent ? { evidence: (result ?? intent)! } : {}) };
  }

  /** A one-shot call is decided on the spot and runs under a one-use lease of its own. */
  private async oneShotLease(agent: AgentConfig, req: InvokeInput, context: Readonly<Record<string, string | number>>): Promise<LeaseRecord> {
    const resource = checkResource(req.resource);
    const trust = await this.deps.leases.trustOf(agent.name);
    const decision: PolicyDecision = this.deps.leases.decide(agent, req.action, resource, { ...context }, req.params, trust);
    if (decision.decision === 'deny' || decision.obligations.approvals.length > 0) throw invokeDenied(decision.explanation);
    const now = this.deps.clock.now();
    const ttl = 60_000;
    const lease: LeaseRecord = {
      id: newLeaseId(),
      agent: agent.name,
      action: req.action,
      resource,
      context: { ...context },
      purpose: req.purpose.slice(0, 1024),
      status: 'active',
      issuedAt: now,
      expiresAt: now + ttl,
      maxExpiresAt: now + ttl,
      maxUses: 1,
      usesLeft: 1,
      policyVersion: decision.policyVersion,
      policyIds: decision.determining.map((d) => d.id),
      tier: trust.tier,
      updatedAt: now,
    };
    await this.deps.evidence?.append([
      {
        type: 'decision',
        agent: agent.name,
        action: req.action,
        resource,
        decision: { effect: decision.decision, policies: lease.policyIds, policy_version: decision.policyVersion },
      },
      { type: 'lease.issued', agent: agent.name, action: req.action, resource, lease: { id: lease.id, expires_at: new Date(lease.expiresAt).toISOString(), max_uses: 1, one_shot: true } },
    ]);
    await this.deps.store.insertLease(lease);
    return lease;
  }
}
