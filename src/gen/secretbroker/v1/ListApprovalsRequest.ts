// Original file: proto/secretbroker/v1/broker.proto

import type { ApprovalState as _secretbroker_v1_ApprovalState, ApprovalState__Output as _secretbroker_v1_ApprovalState__Output } from '../../secretbroker/v1/ApprovalState';

export interface ListApprovalsRequest {
  'includeDecided'?: (boolean);
  'state'?: (_secretbroker_v1_ApprovalState);
  'group'?: (string);
  'agent'?: (string);
  'limit'?: (number);
}

export interface ListApprovalsRequest__Output {
  'includeDecided': (boolean);
  'state': (_secretbroker_v1_ApprovalState__Output);
  'group': (string);
  'agent': (string);
  'limit': (number);
}
