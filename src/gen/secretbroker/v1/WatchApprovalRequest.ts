// Original file: proto/secretbroker/v1/broker.proto


export interface WatchApprovalRequest {
  'approvalId'?: (string);
}

export interface WatchApprovalRequest__Output {
  'approvalId': (string);
}
