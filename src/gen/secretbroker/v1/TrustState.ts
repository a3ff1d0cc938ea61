// Original file: proto/secretbroker/v1/broker.proto

import type { TrustChange as _secretbroker_v1_TrustChange, TrustChange__Output as _secretbroker_v1_TrustChange__Output } from '../../secretbroker/v1/TrustChange';
import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from '../../secretbroker/v1/EvidenceRef';

export interface TrustState {
  'agent'?: (string);
  'score'?: (number);
  'tier'?: (string);
  'updatedAt'?: (string);
  'leasesRevoked'?: (number);
  'fresh'?: (boolean);
  'confirmedAt'?: (string);
  'history'?: (_secretbroker_v1_TrustChange)[];
  'evidence'?: (_secretbroker_v1_EvidenceRef | null);
  'previousScore'?: (number);
  'previousTier'?: (string);
}

export interface TrustState__Output {
  'agent': (string);
  'score': (number);
  'tier': (string);
  'updatedAt': (string);
  'leasesRevoked': (number);
  'fresh': (boolean);
  'confirmedAt': (string);
  'history': (_secretbroker_v1_TrustChange__Output)[];
  'evidence': (_secretbroker_v1_EvidenceRef__Output | null);
  'previousScore': (number);
  'previousTier': (string);
}
