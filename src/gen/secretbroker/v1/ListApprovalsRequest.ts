// Original file: proto/secretbroker/v1/broker.proto


export interface ListApprovalsRequest {
  'includeDecided'?: (boolean);
}

export interface ListApprovalsRequest__Output {
  'includeDecided': (boolean);
}
