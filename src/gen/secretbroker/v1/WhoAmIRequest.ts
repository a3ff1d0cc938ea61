// Original file: proto/secretbroker/v1/broker.proto


export interface WhoAmIRequest {
}

export interface WhoAmIRequest__Output {
}
