// Original file: proto/secretbroker/v1/broker.proto


export interface BreakGlassGrant {
  'overrideId'?: (string);
  'requestedBy'?: (string);
  'confirmedBy'?: (string);
  'until'?: (string);
  'reason'?: (string);
}

export interface BreakGlassGrant__Output {
  'overrideId': (string);
  'requestedBy': (string);
  'confirmedBy': (string);
  'until': (string);
  'reason': (string);
}
