// Original file: proto/secretbroker/v1/broker.proto

import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from '../../secretbroker/v1/EvidenceRef';

export interface RotateEvidenceKeyResponse {
  'verifierKey'?: (string);
  'evidence'?: (_secretbroker_v1_EvidenceRef | null);
  'previousVerifierKey'?: (string);
  'overlapUntil'?: (string);
}

export interface RotateEvidenceKeyResponse__Output {
  'verifierKey': (string);
  'evidence': (_secretbroker_v1_EvidenceRef__Output | null);
  'previousVerifierKey': (string);
  'overlapUntil': (string);
}
