// Original file: proto/secretbroker/v1/broker.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';

export interface LeaseRequest {
  'action'?: (string);
  'resource'?: (string);
  'purpose'?: (string);
  'params'?: (_google_protobuf_Struct | null);
  'ttlSeconds'?: (number);
  'maxUses'?: (number);
  'approvalId'?: (string);
}

export interface LeaseRequest__Output {
  'action': (string);
  'resource': (string);
  'purpose': (string);
  'params': (_google_protobuf_Struct__Output | null);
  'ttlSeconds': (number);
  'maxUses': (number);
  'approvalId': (string);
}
