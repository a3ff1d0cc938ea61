// Original file: proto/secretbroker/v1/broker.proto


export interface ListDecisionsRequest {
  'agent'?: (string);
  'action'?: (string);
  'effect'?: (string);
  'limit'?: (number);
}

export interface ListDecisionsRequest__Output {
  'agent': (string);
  'action': (string);
  'effect': (string);
  'limit': (number);
}
