// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface GetConsistencyProofRequest {
  'firstSize'?: (number | string | Long);
  'secondSize'?: (number | string | Long);
}

export interface GetConsistencyProofRequest__Output {
  'firstSize': (string);
  'secondSize': (string);
}
