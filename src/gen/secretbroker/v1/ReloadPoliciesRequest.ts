// Original file: proto/secretbroker/v1/broker.proto


export interface ReloadPoliciesRequest {
}

export interface ReloadPoliciesRequest__Output {
}
