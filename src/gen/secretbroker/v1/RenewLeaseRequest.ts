// Original file: proto/secretbroker/v1/broker.proto


export interface RenewLeaseRequest {
  'leaseId'?: (string);
  'ttlSeconds'?: (number);
}

export interface RenewLeaseRequest__Output {
  'leaseId': (string);
  'ttlSeconds': (number);
}
