// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface ExplainedBudget {
  'field'?: (string);
  'used'?: (number | string | Long);
  'limit'?: (number | string | Long);
  'hasLimit'?: (boolean);
  'per'?: (string);
  'requested'?: (number | string | Long);
}

export interface ExplainedBudget__Output {
  'field': (string);
  'used': (string);
  'limit': (string);
  'hasLimit': (boolean);
  'per': (string);
  'requested': (string);
}
