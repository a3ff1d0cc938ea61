// Original file: proto/secretbroker/v1/broker.proto


export interface BreakGlassOverride {
  'overrideId'?: (string);
  'agent'?: (string);
  'action'?: (string);
  'resource'?: (string);
  'reason'?: (string);
  'state'?: (string);
  'requestedBy'?: (string);
  'requestedAt'?: (string);
  'confirmedBy'?: (string);
  'confirmedAt'?: (string);
  'expiresAt'?: (string);
  'ttlSeconds'?: (number);
  'endedBy'?: (string);
  'endedAt'?: (string);
  'endReason'?: (string);
  'reviewedBy'?: (string);
  'reviewedAt'?: (string);
  'reviewNote'?: (string);
  'owner'?: (string);
  'secondsLeft'?: (number);
}

export interface BreakGlassOverride__Output {
  'overrideId': (string);
  'agent': (string);
  'action': (string);
  'resource': (string);
  'reason': (string);
  'state': (string);
  'requestedBy': (string);
  'requestedAt': (string);
  'confirmedBy': (string);
  'confirmedAt': (string);
  'expiresAt': (string);
  'ttlSeconds': (number);
  'endedBy': (string);
  'endedAt': (string);
  'endReason': (string);
  'reviewedBy': (string);
  'reviewedAt': (string);
  'reviewNote': (string);
  'owner': (string);
  'secondsLeft': (number);
}
