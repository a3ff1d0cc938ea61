// Original file: proto/secretbroker/v1/broker.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';
import type { ApprovalState as _secretbroker_v1_ApprovalState, ApprovalState__Output as _secretbroker_v1_ApprovalState__Output } from '../../secretbroker/v1/ApprovalState';
import type { TrustInfo as _secretbroker_v1_TrustInfo, TrustInfo__Output as _secretbroker_v1_TrustInfo__Output } from '../../secretbroker/v1/TrustInfo';
import type { ApprovalVote as _secretbroker_v1_ApprovalVote, ApprovalVote__Output as _secretbroker_v1_ApprovalVote__Output } from '../../secretbroker/v1/ApprovalVote';
import type { ApprovalProgress as _secretbroker_v1_ApprovalProgress, ApprovalProgress__Output as _secretbroker_v1_ApprovalProgress__Output } from '../../secretbroker/v1/ApprovalProgress';

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
  'owner'?: (string);
  'params'?: (_google_protobuf_Struct | null);
  'trust'?: (_secretbroker_v1_TrustInfo | null);
  'trustFresh'?: (boolean);
  'rule'?: (string);
  'policyVersion'?: (string);
  'secondsLeft'?: (number);
  'votes'?: (_secretbroker_v1_ApprovalVote)[];
  'groups'?: (string)[];
  'progress'?: (_secretbroker_v1_ApprovalProgress)[];
  'ttlSeconds'?: (number);
  'maxUses'?: (number);
  'bindingHash'?: (string);
  'leaseId'?: (string);
  'decidedAt'?: (string);
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
  'owner': (string);
  'params': (_google_protobuf_Struct__Output | null);
  'trust': (_secretbroker_v1_TrustInfo__Output | null);
  'trustFresh': (boolean);
  'rule': (string);
  'policyVersion': (string);
  'secondsLeft': (number);
  'votes': (_secretbroker_v1_ApprovalVote__Output)[];
  'groups': (string)[];
  'progress': (_secretbroker_v1_ApprovalProgress__Output)[];
  'ttlSeconds': (number);
  'maxUses': (number);
  'bindingHash': (string);
  'leaseId': (string);
  'decidedAt': (string);
}
