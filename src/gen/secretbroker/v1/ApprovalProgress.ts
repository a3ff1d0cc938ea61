// Original file: proto/secretbroker/v1/broker.proto


export interface ApprovalProgress {
  'group'?: (string);
  'required'?: (number);
  'approvals'?: (number);
}

export interface ApprovalProgress__Output {
  'group': (string);
  'required': (number);
  'approvals': (number);
}
