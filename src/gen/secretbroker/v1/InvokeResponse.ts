// Original file: proto/secretbroker/v1/broker.proto

import type { HeaderValue as _secretbroker_v1_HeaderValue, HeaderValue__Output as _secretbroker_v1_HeaderValue__Output } from '../../secretbroker/v1/HeaderValue';
import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from '../../secretbroker/v1/EvidenceRef';

export interface InvokeResponse {
  'statusCode'?: (number);
  'headers'?: (_secretbroker_v1_HeaderValue)[];
  'body'?: (Buffer | Uint8Array | string);
  'evidence'?: (_secretbroker_v1_EvidenceRef | null);
  'leaseId'?: (string);
  'usesLeft'?: (number);
}

export interface InvokeResponse__Output {
  'statusCode': (number);
  'headers': (_secretbroker_v1_HeaderValue__Output)[];
  'body': (Buffer);
  'evidence': (_secretbroker_v1_EvidenceRef__Output | null);
  'leaseId': (string);
  'usesLeft': (number);
}
