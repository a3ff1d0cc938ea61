// Original file: proto/secretbroker/v1/broker.proto

export const LeaseStatus = {
  LEASE_STATUS_UNSPECIFIED: 'LEASE_STATUS_UNSPECIFIED',
  ACTIVE: 'ACTIVE',
  EXPIRED: 'EXPIRED',
  REVOKED: 'REVOKED',
  EXHAUSTED: 'EXHAUSTED',
  REVOKE_FAILED: 'REVOKE_FAILED',
} as const;

export type LeaseStatus =
  | 'LEASE_STATUS_UNSPECIFIED'
  | 0
  | 'ACTIVE'
  | 1
  | 'EXPIRED'
  | 2
  | 'REVOKED'
  | 3
  | 'EXHAUSTED'
  | 4
  | 'REVOKE_FAILED'
  | 5

export type LeaseStatus__Output = typeof LeaseStatus[keyof typeof LeaseStatus]
