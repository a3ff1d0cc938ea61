// Original file: proto/secretbroker/v1/broker.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';

export interface ExplainRequest {
  'agent'?: (string);
  'action'?: (string);
  'resource'?: (string);
  'params'?: (_google_protobuf_Struct | null);
}

export interface ExplainRequest__Output {
  'agent': (string);
  'action': (string);
  'resource': (string);
  'params': (_google_protobuf_Struct__Output | null);
}
