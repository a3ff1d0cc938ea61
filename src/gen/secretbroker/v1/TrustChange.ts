// Original file: proto/secretbroker/v1/broker.proto


export interface TrustChange {
  'at'?: (string);
  'oldScore'?: (number);
  'newScore'?: (number);
  'oldTier'?: (string);
  'newTier'?: (string);
  'kind'?: (string);
  'weight'?: (number);
  'note'?: (string);
  'by'?: (string);
}

export interface TrustChange__Output {
  'at': (string);
  'oldScore': (number);
  'newScore': (number);
  'oldTier': (string);
  'newTier': (string);
  'kind': (string);
  'weight': (number);
  'note': (string);
  'by': (string);
}
