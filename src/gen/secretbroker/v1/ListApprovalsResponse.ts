// Original file: proto/secretbroker/v1/broker.proto

import type { Approval as _secretbroker_v1_Approval, Approval__Output as _secretbroker_v1_Approval__Output } from '../../secretbroker/v1/Approval';

export interface ListApprovalsResponse {
  'approvals'?: (_secretbroker_v1_Approval)[];
}

export interface ListApprovalsResponse__Output {
  'approvals': (_secretbroker_v1_Approval__Output)[];
}
