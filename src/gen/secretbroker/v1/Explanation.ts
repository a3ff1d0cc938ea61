// Original file: proto/secretbroker/v1/broker.proto

import type { PolicyRef as _secretbroker_v1_PolicyRef, PolicyRef__Output as _secretbroker_v1_PolicyRef__Output } from '../../secretbroker/v1/PolicyRef';
import type { Candidate as _secretbroker_v1_Candidate, Candidate__Output as _secretbroker_v1_Candidate__Output } from '../../secretbroker/v1/Candidate';
import type { TrustInfo as _secretbroker_v1_TrustInfo, TrustInfo__Output as _secretbroker_v1_TrustInfo__Output } from '../../secretbroker/v1/TrustInfo';
import type { BreakGlassGrant as _secretbroker_v1_BreakGlassGrant, BreakGlassGrant__Output as _secretbroker_v1_BreakGlassGrant__Output } from '../../secretbroker/v1/BreakGlassGrant';
import type { ExplainedBudget as _secretbroker_v1_ExplainedBudget, ExplainedBudget__Output as _secretbroker_v1_ExplainedBudget__Output } from '../../secretbroker/v1/ExplainedBudget';
import type { ExplainedApproval as _secretbroker_v1_ExplainedApproval, ExplainedApproval__Output as _secretbroker_v1_ExplainedApproval__Output } from '../../secretbroker/v1/ExplainedApproval';

export interface Explanation {
  'decision'?: (string);
  'decidingPolicies'?: (_secretbroker_v1_PolicyRef)[];
  'candidates'?: (_secretbroker_v1_Candidate)[];
  'hint'?: (string);
  'trust'?: (_secretbroker_v1_TrustInfo | null);
  'policyVersion'?: (string);
  'summary'?: (string);
  'override'?: (_secretbroker_v1_BreakGlassGrant | null);
  'budget'?: (_secretbroker_v1_ExplainedBudget | null);
  'approval'?: (_secretbroker_v1_ExplainedApproval | null);
  'hintOnly'?: (boolean);
}

export interface Explanation__Output {
  'decision': (string);
  'decidingPolicies': (_secretbroker_v1_PolicyRef__Output)[];
  'candidates': (_secretbroker_v1_Candidate__Output)[];
  'hint': (string);
  'trust': (_secretbroker_v1_TrustInfo__Output | null);
  'policyVersion': (string);
  'summary': (string);
  'override': (_secretbroker_v1_BreakGlassGrant__Output | null);
  'budget': (_secretbroker_v1_ExplainedBudget__Output | null);
  'approval': (_secretbroker_v1_ExplainedApproval__Output | null);
  'hintOnly': (boolean);
}
