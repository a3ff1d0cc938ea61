// Original file: proto/secretbroker/v1/broker.proto

import type { DecisionRecord as _secretbroker_v1_DecisionRecord, DecisionRecord__Output as _secretbroker_v1_DecisionRecord__Output } from '../../secretbroker/v1/DecisionRecord';
import type { Long } from '@grpc/proto-loader';

export interface ListDecisionsResponse {
  'decisions'?: (_secretbroker_v1_DecisionRecord)[];
  'scanned'?: (number | string | Long);
}

export interface ListDecisionsResponse__Output {
  'decisions': (_secretbroker_v1_DecisionRecord__Output)[];
  'scanned': (string);
}
