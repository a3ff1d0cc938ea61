// Original file: proto/secretbroker/v1/broker.proto

import type { DecisionStatus as _secretbroker_v1_DecisionStatus, DecisionStatus__Output as _secretbroker_v1_DecisionStatus__Output } from '../../secretbroker/v1/DecisionStatus';
import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from '../../secretbroker/v1/Lease';
import type { Explanation as _secretbroker_v1_Explanation, Explanation__Output as _secretbroker_v1_Explanation__Output } from '../../secretbroker/v1/Explanation';
import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from '../../secretbroker/v1/EvidenceRef';

export interface LeaseResponse {
  'status'?: (_secretbroker_v1_DecisionStatus);
  'lease'?: (_secretbroker_v1_Lease | null);
  'explanation'?: (_secretbroker_v1_Explanation | null);
  'approvalId'?: (string);
  'evidence'?: (_secretbroker_v1_EvidenceRef | null);
}

export interface LeaseResponse__Output {
  'status': (_secretbroker_v1_DecisionStatus__Output);
  'lease': (_secretbroker_v1_Lease__Output | null);
  'explanation': (_secretbroker_v1_Explanation__Output | null);
  'approvalId': (string);
  'evidence': (_secretbroker_v1_EvidenceRef__Output | null);
}
