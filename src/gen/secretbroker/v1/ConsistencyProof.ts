// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface ConsistencyProof {
  'firstSize'?: (number | string | Long);
  'secondSize'?: (number | string | Long);
  'hashes'?: (Buffer | Uint8Array | string)[];
  'checkpoint'?: (Buffer | Uint8Array | string);
}

export interface ConsistencyProof__Output {
  'firstSize': (string);
  'secondSize': (string);
  'hashes': (Buffer)[];
  'checkpoint': (Buffer);
}
