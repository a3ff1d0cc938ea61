// Original file: proto/secretbroker/v1/broker.proto


export interface GetLeaseRequest {
  'leaseId'?: (string);
}

export interface GetLeaseRequest__Output {
  'leaseId': (string);
}
