// Original file: proto/secretbroker/v1/broker.proto

import type { LeaseStatus as _secretbroker_v1_LeaseStatus, LeaseStatus__Output as _secretbroker_v1_LeaseStatus__Output } from '../../secretbroker/v1/LeaseStatus';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct';
import type { DatabaseCredential as _secretbroker_v1_DatabaseCredential, DatabaseCredential__Output as _secretbroker_v1_DatabaseCredential__Output } from '../../secretbroker/v1/DatabaseCredential';

export interface Lease {
  'leaseId'?: (string);
  'action'?: (string);
  'resource'?: (string);
  'status'?: (_secretbroker_v1_LeaseStatus);
  'expiresAt'?: (string);
  'usesLeft'?: (number);
  'maxUses'?: (number);
  'maxExpiresAt'?: (string);
  'issuedAt'?: (string);
  'agent'?: (string);
  'context'?: (_google_protobuf_Struct | null);
  'databaseCredential'?: (_secretbroker_v1_DatabaseCredential | null);
  'revokeReason'?: (string);
  'dynamicCredential'?: (boolean);
}

export interface Lease__Output {
  'leaseId': (string);
  'action': (string);
  'resource': (string);
  'status': (_secretbroker_v1_LeaseStatus__Output);
  'expiresAt': (string);
  'usesLeft': (number);
  'maxUses': (number);
  'maxExpiresAt': (string);
  'issuedAt': (string);
  'agent': (string);
  'context': (_google_protobuf_Struct__Output | null);
  'databaseCredential': (_secretbroker_v1_DatabaseCredential__Output | null);
  'revokeReason': (string);
  'dynamicCredential': (boolean);
}
