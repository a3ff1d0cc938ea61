// Original file: proto/secretbroker/v1/broker.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';
import type { ApprovalState as _secretbroker_v1_ApprovalState, ApprovalState__Output as _secretbroker_v1_ApprovalState__Output } from '../../secretbroker/v1/ApprovalState';

export interface Approval {
  'approvalId'?: (string);
  'agent'?: (string);
  'action'?: (string);
  'resource'?: (string);
  'context'?: (_google_protobuf_Struct | null);
  'purpose'?: (string);
  'state'?: (_secretbroker_v1_ApprovalState);
  'group'?: (string);
  'required'?: (number);
  'approvedBy'?: (string)[];
  'createdAt'?: (string);
  'expiresAt'?: (string);
  'reason'?: (string);
}

export interface Approval__Output {
  'approvalId': (string);
  'agent': (string);
  'action': (string);
  'resource': (string);
  'context': (_google_protobuf_Struct__Output | null);
  'purpose': (string);
  'state': (_secretbroker_v1_ApprovalState__Output);
  'group': (string);
  'required': (number);
  'approvedBy': (string)[];
  'createdAt': (string);
  'expiresAt': (string);
  'reason': (string);
}
