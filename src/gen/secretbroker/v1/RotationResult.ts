// Original file: proto/secretbroker/v1/broker.proto

import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from '../../secretbroker/v1/EvidenceRef';
import type { Long } from '@grpc/proto-loader';

export interface RotationResult {
  'secret'?: (string);
  'outcome'?: (string);
  'newVersion'?: (number);
  'detail'?: (string);
  'oldVersion'?: (number);
  'fencingToken'?: (number | string | Long);
  'dueAt'?: (string);
  'lastRotatedAt'?: (string);
  'evidence'?: (_secretbroker_v1_EvidenceRef | null);
  'backend'?: (string);
}

export interface RotationResult__Output {
  'secret': (string);
  'outcome': (string);
  'newVersion': (number);
  'detail': (string);
  'oldVersion': (number);
  'fencingToken': (string);
  'dueAt': (string);
  'lastRotatedAt': (string);
  'evidence': (_secretbroker_v1_EvidenceRef__Output | null);
  'backend': (string);
}
