// Original file: proto/secretbroker/v1/broker.proto


export interface RotateEvidenceKeyRequest {
  'reason'?: (string);
}

export interface RotateEvidenceKeyRequest__Output {
  'reason': (string);
}
