// Original file: proto/secretbroker/v1/broker.proto


export interface GetApprovalRequest {
  'approvalId'?: (string);
}

export interface GetApprovalRequest__Output {
  'approvalId': (string);
}
