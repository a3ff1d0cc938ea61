// Original file: proto/secretbroker/v1/broker.proto


export interface DecideApprovalRequest {
  'approvalId'?: (string);
  'approve'?: (boolean);
  'reason'?: (string);
}

export interface DecideApprovalRequest__Output {
  'approvalId': (string);
  'approve': (boolean);
  'reason': (string);
}
