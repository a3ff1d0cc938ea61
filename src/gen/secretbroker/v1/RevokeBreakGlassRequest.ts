// Original file: proto/secretbroker/v1/broker.proto


export interface RevokeBreakGlassRequest {
  'overrideId'?: (string);
  'reason'?: (string);
}

export interface RevokeBreakGlassRequest__Output {
  'overrideId': (string);
  'reason': (string);
}
