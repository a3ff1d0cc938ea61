// Original file: proto/secretbroker/v1/broker.proto


export interface Receipt {
  'tlogProof'?: (Buffer | Uint8Array | string);
}

export interface Receipt__Output {
  'tlogProof': (Buffer);
}
