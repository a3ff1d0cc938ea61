// Original file: proto/secretbroker/v1/broker.proto

import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from '../../secretbroker/v1/Lease';

export interface RevokeLeasesResponse {
  'revoked'?: (_secretbroker_v1_Lease)[];
}

export interface RevokeLeasesResponse__Output {
  'revoked': (_secretbroker_v1_Lease__Output)[];
}
