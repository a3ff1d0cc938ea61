// Original file: proto/secretbroker/v1/broker.proto

export const ApprovalState = {
  APPROVAL_STATE_UNSPECIFIED: 'APPROVAL_STATE_UNSPECIFIED',
  PENDING: 'PENDING',
  APPROVED: 'APPROVED',
  REJECTED: 'REJECTED',
  APPROVAL_EXPIRED: 'APPROVAL_EXPIRED',
  APPROVAL_CONSUMED: 'APPROVAL_CONSUMED',
} as const;

export type ApprovalState =
  | 'APPROVAL_STATE_UNSPECIFIED'
  | 0
  | 'PENDING'
  | 1
  | 'APPROVED'
  | 2
  | 'REJECTED'
  | 3
  | 'APPROVAL_EXPIRED'
  | 4
  | 'APPROVAL_CONSUMED'
  | 5

export type ApprovalState__Output = typeof ApprovalState[keyof typeof ApprovalState]
