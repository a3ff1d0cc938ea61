// Original file: proto/secretbroker/v1/broker.proto


export interface RevokeLeaseRequest {
  'leaseId'?: (string);
  'reason'?: (string);
}

export interface RevokeLeaseRequest__Output {
  'leaseId': (string);
  'reason': (string);
}
