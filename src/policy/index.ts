// The policy decision point's public API; the rest of src/policy is internal.
export { compilePolicySet, loadPolicySet, policySetVersion } from './policy-set';
export type { PolicyFile, PolicyInfo, PolicySet } from './policy-set';
export { formatProblem, PolicyLoadError } from './policy-load-error';
export type { PolicyProblem } from './policy-load-error';
export { createPolicyEngine, EVALUATION_FAILED } from './policy-engine';
export type { PolicyDecision, PolicyEngine, PolicyEngineOptions } from './policy-engine';
export type { DecisionContext, DecisionRequest } from './decision-request';
export type { ApprovalInfo, BudgetInfo, Candidate, DecisionKind, Explanation, HintOnly } from './explanation';
export { boundedExplanationJson, DECISION_KINDS, denialDetail, EVIDENCE_MAX_BYTES, explanationTrailer, forAgent, TRAILER_MAX_BYTES } from './explanation';
export { obligationLabels } from './obligations';
export type { Obligations } from './obligations';
