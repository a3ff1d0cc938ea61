// Original file: proto/secretbroker/v1/broker.proto

export const DecisionStatus = {
  DECISION_STATUS_UNSPECIFIED: 'DECISION_STATUS_UNSPECIFIED',
  GRANTED: 'GRANTED',
  PENDING_APPROVAL: 'PENDING_APPROVAL',
  DENIED: 'DENIED',
} as const;

export type DecisionStatus =
  | 'DECISION_STATUS_UNSPECIFIED'
  | 0
  | 'GRANTED'
  | 1
  | 'PENDING_APPROVAL'
  | 2
  | 'DENIED'
  | 3

export type DecisionStatus__Output = typeof DecisionStatus[keyof typeof DecisionStatus]
