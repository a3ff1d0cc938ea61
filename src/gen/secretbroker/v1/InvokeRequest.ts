// Original file: proto/secretbroker/v1/broker.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';
import type { HeaderValue as _secretbroker_v1_HeaderValue, HeaderValue__Output as _secretbroker_v1_HeaderValue__Output } from '../../secretbroker/v1/HeaderValue';

export interface InvokeRequest {
  'leaseId'?: (string);
  'action'?: (string);
  'resource'?: (string);
  'params'?: (_google_protobuf_Struct | null);
  'method'?: (string);
  'path'?: (string);
  'query'?: (_secretbroker_v1_HeaderValue)[];
  'headers'?: (_secretbroker_v1_HeaderValue)[];
  'body'?: (Buffer | Uint8Array | string);
  'purpose'?: (string);
}

export interface InvokeRequest__Output {
  'leaseId': (string);
  'action': (string);
  'resource': (string);
  'params': (_google_protobuf_Struct__Output | null);
  'method': (string);
  'path': (string);
  'query': (_secretbroker_v1_HeaderValue__Output)[];
  'headers': (_secretbroker_v1_HeaderValue__Output)[];
  'body': (Buffer);
  'purpose': (string);
}
