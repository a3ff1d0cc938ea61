// Original file: proto/secretbroker/v1/broker.proto

import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from '../../secretbroker/v1/Lease';

export interface ListLeasesResponse {
  'leases'?: (_secretbroker_v1_Lease)[];
}

export interface ListLeasesResponse__Output {
  'leases': (_secretbroker_v1_Lease__Output)[];
}
