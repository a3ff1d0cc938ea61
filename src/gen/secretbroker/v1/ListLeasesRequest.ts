// Original file: proto/secretbroker/v1/broker.proto

import type { LeaseStatus as _secretbroker_v1_LeaseStatus, LeaseStatus__Output as _secretbroker_v1_LeaseStatus__Output } from '../../secretbroker/v1/LeaseStatus';

export interface ListLeasesRequest {
  'agent'?: (string);
  'action'?: (string);
  'status'?: (_secretbroker_v1_LeaseStatus)[];
  'limit'?: (number);
}

export interface ListLeasesRequest__Output {
  'agent': (string);
  'action': (string);
  'status': (_secretbroker_v1_LeaseStatus__Output)[];
  'limit': (number);
}
