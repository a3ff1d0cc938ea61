import type { BrokerConfig } from '../config/config-types';
import type { EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import { holdsAuthority, type LeaseRecord } from '../leases/lease';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';
import type { PolicyEngine } from '../policy';
import type { Store } from '../store/store';
import type { CredentialRevoker } from './credential-revoker';
import type { LeaseService } from './lease-service';

export interface PolicyReloadDeps {
  config: Pick<BrokerConfig, 'agents' | 'policies'>;
  store: Pick<Store, 'listLeases'>;
  leases: Pick<LeaseService, 'redecide' | 'endManyRecorded'>;
  clock: Clock;
  log: Logger;
  /** Loads and validates the whole set (every problem at once, with file and line); throws, swapping nothing, when anything is wrong. */
  load: () => Promise<PolicyEngine>;
  current: () => PolicyEngine;
  swap: (engine: PolicyEngine) => void;
  evidence?: EvidenceSink;
  revoker?: Pick<CredentialRevoker, 'revokeEndedMany'>;
}

export interface PolicyReloadResult {
  version: string;
  previousVersion: string;
  policies: number;
  /** false: the files are unchanged (nothing recorded, nothing re-evaluated). */
  changed: boolean;
  /** The `policy.loaded` entry. */
  evidence?: EvidenceRef;
  /** Active leases re-decided under the new set. */
  reevaluated: number;
  /** The ones it no longer permits, revoked. */
  revoked: LeaseRecord[];
}

/** Re-evaluation lists at most this many active leases (far above agents x limits.active_leases in practice). */
const MAX_REEVALUATED = 1_000_000;

/**
 * ReloadPolicies (and SIGHUP). In order:
 * 1. load and validate the new set completely (Cedar, annotations, approval groups); on any problem throw, the old set serving;
 * 2. unchanged files: answer, record nothing;
 * 3. record `policy.loaded` (evidence before effect), then swap;
 * 4. re-decide every active lease under the new set, as a trust drop does; revoke those it no longer permits
 *    (`lease.revoked` naming the `policy.loaded` entry), then their dynamic credentials upstream.
 * Reloads run one at a time.
 */
export class PolicyReloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: PolicyReloadDeps) {}

  reload(by: string): Promise<PolicyReloadResult> {
    const run = this.queue.then(() => this.reloadNow(by));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(by: string): Promise<PolicyReloadResult> {
    const { deps } = this;
    const previous = deps.current();
    // 1. Everything is checked before anything changes.
    const next = await deps.load();
    const base = { version: next.version, previousVersion: previous.version, policies: next.policySet.policies.length };
    // 2. Nothing changed.
    if (next.version === previous.version) return { ...base, changed: false, reevaluated: 0, revoked: [] };
    // 3. Recorded, then in force.
    const [ref] = (await deps.evidence?.append([
      { type: 'policy.loaded', policy_version: next.version, previous_version: previous.version, policies: next.policySet.policies.map((p) => p.id), by },
    ])) ?? [];
    deps.swap(next);
    deps.log.info({ policy_version: next.version, previous_version: previous.version, by }, 'policy set reloaded');
    // 4. Leases granted under the old set.
    const { reevaluated, revoked } = await this.reevaluate(next.version, ref);
    return { ...base, changed: true, ...(ref ? { evidence: ref } : {}), reevaluated, revoked };
  }

  private async reevaluate(version: string, loaded: EvidenceRef | undefined): Promise<{ reevaluated: number; revoked: LeaseRecord[] }> {
    const { deps } = this;
    const active = await deps.store.listLeases({ statuses: ['active', 'exhausted'], limit: MAX_REEVALUATED });
    const cause = { policy_version: version, ...(loaded ? { policy_loaded: loaded.index } : {}) };
    const reason = `the policy set ${version.slice(0, 12)} no longer permits it`;
    const refused: string[] = [];
    let reevaluated = 0;
    const now = deps.clock.now();
    for (const lease of active) {
      if (!holdsAuthority(lease, now)) continue;
      const agent = Object.hasOwn(deps.config.agents, lease.agent) ? deps.config.agents[lease.agent] : undefined;
      let permitted = false;
      if (agent) {
        try {
          permitted = (await deps.leases.redecide('reevaluate', agent, lease)).verdict === 'allow';
        } catch (err) {
          // An error while deciding is a denial, never an allow.
          deps.log.warn({ err, lease_id: lease.id }, 're-evaluation after a policy reload failed; revoking');
        }
      }
      reevaluated++;
      if (!permitted) refused.push(lease.id);
    }
    // One transaction ends them all, their entries in one commit (as a trust drop does).
    const ended = await deps.leases.endManyRecorded(refused, reason, { by: 'broker', reason: 'policy.loaded', ...cause }, deps.log);
    const end = { by: 'broker' };
    const revoked = deps.revoker && ended.length ? await deps.revoker.revokeEndedMany(ended.map((lease) => ({ lease, end })), deps.log) : ended;
    if (revoked.length) deps.log.info({ count: revoked.length, policy_version: version }, 'leases revoked after a policy reload');
    return { reevaluated, revoked };
  }
}
