// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface EvidenceRef {
  'origin'?: (string);
  'index'?: (number | string | Long);
  'leafHash'?: (Buffer | Uint8Array | string);
}

export interface EvidenceRef__Output {
  'origin': (string);
  'index': (string);
  'leafHash': (Buffer);
}
