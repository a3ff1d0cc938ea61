import type { CredentialHandle } from '../backends/backend';

/**
 * A lease as stored. Times are ms since the epoch (from the Clock).
 *
 * A lease that carries a dynamic credential (`credential`) ends in two steps:
 * its status goes to revoked or expired (authority ends), then the credential
 * is revoked upstream (`credentialRevokedAt` set). While that upstream
 * revocation fails the status is `revoke_failed` (`endedAs` says what it ended
 * as) and the broker retries; on success it returns to `endedAs`.
 */
export type LeaseStatus = 'active' | 'expired' | 'revoked' | 'exhausted' | 'revoke_failed';

/** Declared context values: strings, or integers (amounts are integer cents). */
export type ContextValue = string | number;

/** A JSON value, as params arrive (google.protobuf.Struct). */
export type LeaseParam = null | boolean | number | string | LeaseParam[] | { [k: string]: LeaseParam };

export interface LeaseRecord {
  id: string;
  agent: string;
  action: string;
  resource: string;
  /** The declared context values the lease was granted for; every use must match them. */
  context: Readonly<Record<string, ContextValue>>;
  /**
   * The agent's params the lease was decided with (canonical JSON at most
   * 8 KiB): every use and renewal re-decides with them and `context`.
   */
  params: Readonly<Record<string, LeaseParam>>;
  purpose: string;
  status: LeaseStatus;
  issuedAt: number;
  expiresAt: number;
  /** Renewal never passes this. */
  maxExpiresAt: number;
  maxUses: number;
  usesLeft: number;
  policyVersion: string;
  /** Ids of the policies that granted it. */
  policyIds: readonly string[];
  /** Trust tier at grant time. */
  tier: string;
  revokeReason?: string;
  updatedAt: number;
  /** The dynamic credential minted for this lease (not secret: backend name and handle id). */
  credential?: CredentialHandle;
  /** When the credential was revoked upstream; unset while that is still owed. */
  credentialRevokedAt?: number;
  /** Set while status is revoke_failed: the terminal status the lease returns to once the credential is revoked. */
  endedAs?: 'revoked' | 'expired';
  /** Set by a failed upstream revocation while the credential is still owed: when the next attempt is due. */
  credentialRetryAt?: number;
  /** The approval it was granted under (consumed in the commit that stored it); its re-checks honour it. */
  approvalId?: string;
}

/**
 * Whether a lease still carries authority a re-decision (trust drop, policy
 * reload) must take away at `now`: an active one not yet past its expiry, or
 * a used-up one whose dynamic credential is still live upstream. An active one
 * past its expiry has ended already: the reaper (which expires active leases)
 * records it as expired, not revoked, and owes its credential a revocation. A
 * used-up lease without a credential has nothing left to revoke.
 */
export function holdsAuthority(l: Pick<LeaseRecord, 'status' | 'credential' | 'expiresAt'>, now: number): boolean {
  if (l.status === 'active') return l.expiresAt > now;
  return l.status === 'exhausted' && l.credential !== undefined;
}

export interface LeaseFilter {
  agent?: string;
  action?: string;
  leaseId?: string;
  statuses?: readonly LeaseStatus[];
  limit: number;
}
