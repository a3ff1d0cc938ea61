import type { EvidenceDraft } from '../evidence/ledger/evidence-sink';
import type { OverrideRecord } from './breakglass-store';

export type { OverrideRecord } from './breakglass-store';

/**
 * What the decision step needs of break-glass: the confirmed, unexpired
 * override that covers this agent's action (and resource), if any. An agent
 * in the `quarantined` tier gets none, and (unless `dryRun`) its open
 * overrides are ended by the broker, each with its entry.
 */
export interface OverrideGate {
  applicable(q: { agent: string; action: string; resource: string; tier: string; dryRun: boolean }): Promise<OverrideRecord | undefined>;
  /**
   * Records a lease granted under an override. Synchronous: it runs inside
   * the grant's transaction, so the lease and the record commit together.
   * False when the override is no longer active (revoked or expired since
   * the decision): then the grant must fail.
   */
  recordGrant(overrideId: string, leaseId: string, at: number): boolean;
}

/** What an explanation and a `decision` entry say about the override a grant stands under. */
export interface OverrideNote {
  id: string;
  requested_by: string;
  confirmed_by: string;
  /** RFC 3339. */
  until: string;
  reason: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function overrideNote(o: OverrideRecord): OverrideNote {
  return { id: o.id, requested_by: o.requestedBy, confirmed_by: o.confirmedBy ?? '', until: iso(o.expiresAt), reason: o.reason };
}

export type OverrideEvent = 'requested' | 'confirmed' | 'refused' | 'granted' | 'revoked' | 'expired' | 'ended' | 'reviewed';

/**
 * A `breakglass` entry: one per step of an override's life. `extra` goes into
 * the `breakglass` object (who did it, a note, the lease granted under it).
 */
export function breakglassDraft(o: OverrideRecord, event: OverrideEvent, extra: Record<string, unknown> = {}): EvidenceDraft {
  return {
    type: 'breakglass',
    agent: o.agent,
    action: o.action,
    ...(o.resource ? { resource: o.resource } : {}),
    breakglass: {
      id: o.id,
      event,
      // The state after this entry.
      state: o.state,
      requested_by: o.requestedBy,
      ...(o.confirmedBy ? { confirmed_by: o.confirmedBy } : {}),
      expires_at: iso(o.expiresAt),
      ttl_seconds: Math.floor(o.ttlMs / 1000),
      ...extra,
    },
  };
}

/** The entry that records a lease granted under an override (committed with the lease). */
export function grantedUnderDraft(o: OverrideRecord, lease: { id: string; resource: string; expiresAt: number }): EvidenceDraft {
  return breakglassDraft(o, 'granted', { lease: { id: lease.id, resource: lease.resource, expires_at: iso(lease.expiresAt) } });
}
