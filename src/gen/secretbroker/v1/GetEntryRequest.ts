// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface GetEntryRequest {
  'index'?: (number | string | Long);
}

export interface GetEntryRequest__Output {
  'index': (string);
}
