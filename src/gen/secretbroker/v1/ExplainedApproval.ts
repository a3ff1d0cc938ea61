// Original file: proto/secretbroker/v1/broker.proto

import type { ExplainedVotes as _secretbroker_v1_ExplainedVotes, ExplainedVotes__Output as _secretbroker_v1_ExplainedVotes__Output } from '../../secretbroker/v1/ExplainedVotes';

export interface ExplainedApproval {
  'groups'?: (string)[];
  'rule'?: (string);
  'missing'?: (_secretbroker_v1_ExplainedVotes)[];
  'approvalId'?: (string);
}

export interface ExplainedApproval__Output {
  'groups': (string)[];
  'rule': (string);
  'missing': (_secretbroker_v1_ExplainedVotes__Output)[];
  'approvalId': (string);
}
