// Original file: proto/secretbroker/v1/broker.proto

import type { Long } from '@grpc/proto-loader';

export interface DecisionRecord {
  'index'?: (number | string | Long);
  'time'?: (string);
  'agent'?: (string);
  'action'?: (string);
  'resource'?: (string);
  'effect'?: (string);
  'policies'?: (string)[];
  'policyVersion'?: (string);
  'trustScore'?: (number);
  'trustTier'?: (string);
  'explanationJson'?: (string);
  'foldedCount'?: (number);
  'flood'?: (boolean);
  'firstIndex'?: (number | string | Long);
  'foldedSince'?: (string);
  'foldedUntil'?: (string);
}

export interface DecisionRecord__Output {
  'index': (string);
  'time': (string);
  'agent': (string);
  'action': (string);
  'resource': (string);
  'effect': (string);
  'policies': (string)[];
  'policyVersion': (string);
  'trustScore': (number);
  'trustTier': (string);
  'explanationJson': (string);
  'foldedCount': (number);
  'flood': (boolean);
  'firstIndex': (string);
  'foldedSince': (string);
  'foldedUntil': (string);
}
