// Original file: proto/secretbroker/v1/broker.proto

import type { BreakGlassOverride as _secretbroker_v1_BreakGlassOverride, BreakGlassOverride__Output as _secretbroker_v1_BreakGlassOverride__Output } from '../../secretbroker/v1/BreakGlassOverride';

export interface ListBreakGlassResponse {
  'overrides'?: (_secretbroker_v1_BreakGlassOverride)[];
}

export interface ListBreakGlassResponse__Output {
  'overrides': (_secretbroker_v1_BreakGlassOverride__Output)[];
}
