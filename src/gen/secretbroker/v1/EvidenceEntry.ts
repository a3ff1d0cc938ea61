// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface EvidenceEntry {
  'index'?: (number | string | Long);
  'entry'?: (Buffer | Uint8Array | string);
  'leafHash'?: (Buffer | Uint8Array | string);
}

export interface EvidenceEntry__Output {
  'index': (string);
  'entry': (Buffer);
  'leafHash': (Buffer);
}
