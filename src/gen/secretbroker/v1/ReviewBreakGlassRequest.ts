// Original file: proto/secretbroker/v1/broker.proto


export interface ReviewBreakGlassRequest {
  'overrideId'?: (string);
  'note'?: (string);
}

export interface ReviewBreakGlassRequest__Output {
  'overrideId': (string);
  'note': (string);
}
