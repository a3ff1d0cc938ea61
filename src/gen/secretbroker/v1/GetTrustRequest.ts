// Original file: proto/secretbroker/v1/broker.proto


export interface GetTrustRequest {
  'agent'?: (string);
}

export interface GetTrustRequest__Output {
  'agent': (string);
}
