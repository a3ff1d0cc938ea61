// Original file: proto/secretbroker/v1/broker.proto

import type { RotationResult as _secretbroker_v1_RotationResult, RotationResult__Output as _secretbroker_v1_RotationResult__Output } from '../../secretbroker/v1/RotationResult';

export interface RotateResponse {
  'results'?: (_secretbroker_v1_RotationResult)[];
}

export interface RotateResponse__Output {
  'results': (_secretbroker_v1_RotationResult__Output)[];
}
