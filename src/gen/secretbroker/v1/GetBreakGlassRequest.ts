// Original file: proto/secretbroker/v1/broker.proto


export interface GetBreakGlassRequest {
  'overrideId'?: (string);
}

export interface GetBreakGlassRequest__Output {
  'overrideId': (string);
}
