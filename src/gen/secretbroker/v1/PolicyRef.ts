// Original file: proto/secretbroker/v1/broker.proto


export interface PolicyRef {
  'id'?: (string);
  'reason'?: (string);
}

export interface PolicyRef__Output {
  'id': (string);
  'reason': (string);
}
