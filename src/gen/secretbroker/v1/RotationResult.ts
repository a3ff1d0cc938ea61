// Original file: proto/secretbroker/v1/broker.proto


export interface RotationResult {
  'secret'?: (string);
  'outcome'?: (string);
  'newVersion'?: (number);
  'detail'?: (string);
}

export interface RotationResult__Output {
  'secret': (string);
  'outcome': (string);
  'newVersion': (number);
  'detail': (string);
}
