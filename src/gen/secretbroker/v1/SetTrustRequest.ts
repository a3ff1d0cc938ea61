// Original file: proto/secretbroker/v1/broker.proto


export interface SetTrustRequest {
  'agent'?: (string);
  'score'?: (number);
  'reason'?: (string);
}

export interface SetTrustRequest__Output {
  'agent': (string);
  'score': (number);
  'reason': (string);
}
