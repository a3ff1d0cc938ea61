// Original file: proto/secretbroker/v1/broker.proto


export interface ConfirmBreakGlassRequest {
  'overrideId'?: (string);
  'note'?: (string);
}

export interface ConfirmBreakGlassRequest__Output {
  'overrideId': (string);
  'note': (string);
}
