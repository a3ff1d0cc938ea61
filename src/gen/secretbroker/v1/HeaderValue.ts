// Original file: proto/secretbroker/v1/broker.proto


export interface HeaderValue {
  'name'?: (string);
  'value'?: (string);
}

export interface HeaderValue__Output {
  'name': (string);
  'value': (string);
}
