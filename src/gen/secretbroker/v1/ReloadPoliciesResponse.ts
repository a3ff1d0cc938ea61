// Original file: proto/secretbroker/v1/broker.proto

import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from '../../secretbroker/v1/EvidenceRef';
import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from '../../secretbroker/v1/Lease';

export interface ReloadPoliciesResponse {
  'policyVersion'?: (string);
  'policies'?: (number);
  'previousVersion'?: (string);
  'changed'?: (boolean);
  'evidence'?: (_secretbroker_v1_EvidenceRef | null);
  'reevaluated'?: (number);
  'revoked'?: (_secretbroker_v1_Lease)[];
}

export interface ReloadPoliciesResponse__Output {
  'policyVersion': (string);
  'policies': (number);
  'previousVersion': (string);
  'changed': (boolean);
  'evidence': (_secretbroker_v1_EvidenceRef__Output | null);
  'reevaluated': (number);
  'revoked': (_secretbroker_v1_Lease__Output)[];
}
