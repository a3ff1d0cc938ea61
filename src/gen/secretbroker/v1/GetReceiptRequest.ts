// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface GetReceiptRequest {
  'index'?: (number | string | Long);
  'treeSize'?: (number | string | Long);
}

export interface GetReceiptRequest__Output {
  'index': (string);
  'treeSize': (string);
}
