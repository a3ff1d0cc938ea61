// Original file: proto/secretbroker/v1/broker.proto

import type { DecisionStatus as _secretbroker_v1_DecisionStatus, DecisionStatus__Output as _secretbroker_v1_DecisionStatus__Output } from '../../secretbroker/v1/DecisionStatus';
import type { Explanation as _secretbroker_v1_Explanation, Explanation__Output as _secretbroker_v1_Explanation__Output } from '../../secretbroker/v1/Explanation';

export interface ExplainResponse {
  'status'?: (_secretbroker_v1_DecisionStatus);
  'explanation'?: (_secretbroker_v1_Explanation | null);
}

export interface ExplainResponse__Output {
  'status': (_secretbroker_v1_DecisionStatus__Output);
  'explanation': (_secretbroker_v1_Explanation__Output | null);
}
