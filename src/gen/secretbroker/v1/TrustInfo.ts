// Original file: proto/secretbroker/v1/broker.proto


export interface TrustInfo {
  'score'?: (number);
  'tier'?: (string);
}

export interface TrustInfo__Output {
  'score': (number);
  'tier': (string);
}
