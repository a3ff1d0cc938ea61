// Original file: proto/secretbroker/v1/broker.proto


export interface GetCheckpointRequest {
}

export interface GetCheckpointRequest__Output {
}
