// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface Checkpoint {
  'note'?: (Buffer | Uint8Array | string);
  'origin'?: (string);
  'size'?: (number | string | Long);
  'rootHash'?: (Buffer | Uint8Array | string);
}

export interface Checkpoint__Output {
  'note': (Buffer);
  'origin': (string);
  'size': (string);
  'rootHash': (Buffer);
}
