// Original file: proto/secretbroker/v1/broker.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';

export interface BreakGlassRequest {
  'agent'?: (string);
  'action'?: (string);
  'resource'?: (string);
  'reason'?: (string);
  'ttlSeconds'?: (number);
  'params'?: (_google_protobuf_Struct | null);
}

export interface BreakGlassRequest__Output {
  'agent': (string);
  'action': (string);
  'resource': (string);
  'reason': (string);
  'ttlSeconds': (number);
  'params': (_google_protobuf_Struct__Output | null);
}
