// Original file: proto/secretbroker/v1/broker.proto


export interface ReloadPoliciesResponse {
  'policyVersion'?: (string);
  'policies'?: (number);
}

export interface ReloadPoliciesResponse__Output {
  'policyVersion': (string);
  'policies': (number);
}
