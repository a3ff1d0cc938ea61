// Original file: proto/secretbroker/v1/broker.proto

import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from '../../secretbroker/v1/Lease';
import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from '../../secretbroker/v1/EvidenceRef';
import type { BreakGlassOverride as _secretbroker_v1_BreakGlassOverride, BreakGlassOverride__Output as _secretbroker_v1_BreakGlassOverride__Output } from '../../secretbroker/v1/BreakGlassOverride';

export interface BreakGlassResponse {
  'lease'?: (_secretbroker_v1_Lease | null);
  'evidence'?: (_secretbroker_v1_EvidenceRef | null);
  'override'?: (_secretbroker_v1_BreakGlassOverride | null);
}

export interface BreakGlassResponse__Output {
  'lease': (_secretbroker_v1_Lease__Output | null);
  'evidence': (_secretbroker_v1_EvidenceRef__Output | null);
  'override': (_secretbroker_v1_BreakGlassOverride__Output | null);
}
