// Original file: proto/secretbroker/v1/broker.proto


export interface ApprovalVote {
  'approver'?: (string);
  'approve'?: (boolean);
  'reason'?: (string);
  'at'?: (string);
}

export interface ApprovalVote__Output {
  'approver': (string);
  'approve': (boolean);
  'reason': (string);
  'at': (string);
}
