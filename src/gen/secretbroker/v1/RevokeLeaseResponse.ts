// Original file: proto/secretbroker/v1/broker.proto

import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from '../../secretbroker/v1/Lease';

export interface RevokeLeaseResponse {
  'lease'?: (_secretbroker_v1_Lease | null);
}

export interface RevokeLeaseResponse__Output {
  'lease': (_secretbroker_v1_Lease__Output | null);
}
