// Original file: proto/secretbroker/v1/broker.proto


export interface GetTrustRequest {
  'agent'?: (string);
  'history'?: (number);
}

export interface GetTrustRequest__Output {
  'agent': (string);
  'history': (number);
}
