// Original file: proto/secretbroker/v1/broker.proto


export interface RevokeLeasesRequest {
  'agent'?: (string);
  'action'?: (string);
  'leaseId'?: (string);
  'reason'?: (string);
}

export interface RevokeLeasesRequest__Output {
  'agent': (string);
  'action': (string);
  'leaseId': (string);
  'reason': (string);
}
