// Original file: proto/secretbroker/v1/broker.proto


export interface TrustState {
  'agent'?: (string);
  'score'?: (number);
  'tier'?: (string);
  'updatedAt'?: (string);
  'leasesRevoked'?: (number);
}

export interface TrustState__Output {
  'agent': (string);
  'score': (number);
  'tier': (string);
  'updatedAt': (string);
  'leasesRevoked': (number);
}
