// Original file: proto/secretbroker/v1/broker.proto


export interface RotateRequest {
  'secret'?: (string);
  'dryRun'?: (boolean);
  'force'?: (boolean);
}

export interface RotateRequest__Output {
  'secret': (string);
  'dryRun': (boolean);
  'force': (boolean);
}
