// Original file: proto/secretbroker/v1/broker.proto


export interface ListBreakGlassRequest {
  'unreviewed'?: (boolean);
  'state'?: (string);
  'agent'?: (string);
  'limit'?: (number);
}

export interface ListBreakGlassRequest__Output {
  'unreviewed': (boolean);
  'state': (string);
  'agent': (string);
  'limit': (number);
}
