// Original file: proto/secretbroker/v1/broker.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Approval as _secretbroker_v1_Approval, Approval__Output as _secretbroker_v1_Approval__Output } from '../../secretbroker/v1/Approval';
import type { BreakGlassRequest as _secretbroker_v1_BreakGlassRequest, BreakGlassRequest__Output as _secretbroker_v1_BreakGlassRequest__Output } from '../../secretbroker/v1/BreakGlassRequest';
import type { BreakGlassResponse as _secretbroker_v1_BreakGlassResponse, BreakGlassResponse__Output as _secretbroker_v1_BreakGlassResponse__Output } from '../../secretbroker/v1/BreakGlassResponse';
import type { ConfirmBreakGlassRequest as _secretbroker_v1_ConfirmBreakGlassRequest, ConfirmBreakGlassRequest__Output as _secretbroker_v1_ConfirmBreakGlassRequest__Output } from '../../secretbroker/v1/ConfirmBreakGlassRequest';
import type { DecideApprovalRequest as _secretbroker_v1_DecideApprovalRequest, DecideApprovalRequest__Output as _secretbroker_v1_DecideApprovalRequest__Output } from '../../secretbroker/v1/DecideApprovalRequest';
import type { ExplainRequest as _secretbroker_v1_ExplainRequest, ExplainRequest__Output as _secretbroker_v1_ExplainRequest__Output } from '../../secretbroker/v1/ExplainRequest';
import type { ExplainResponse as _secretbroker_v1_ExplainResponse, ExplainResponse__Output as _secretbroker_v1_ExplainResponse__Output } from '../../secretbroker/v1/ExplainResponse';
import type { GetApprovalRequest as _secretbroker_v1_GetApprovalRequest, GetApprovalRequest__Output as _secretbroker_v1_GetApprovalRequest__Output } from '../../secretbroker/v1/GetApprovalRequest';
import type { GetBreakGlassRequest as _secretbroker_v1_GetBreakGlassRequest, GetBreakGlassRequest__Output as _secretbroker_v1_GetBreakGlassRequest__Output } from '../../secretbroker/v1/GetBreakGlassRequest';
import type { GetTrustRequest as _secretbroker_v1_GetTrustRequest, GetTrustRequest__Output as _secretbroker_v1_GetTrustRequest__Output } from '../../secretbroker/v1/GetTrustRequest';
import type { ListApprovalsRequest as _secretbroker_v1_ListApprovalsRequest, ListApprovalsRequest__Output as _secretbroker_v1_ListApprovalsRequest__Output } from '../../secretbroker/v1/ListApprovalsRequest';
import type { ListApprovalsResponse as _secretbroker_v1_ListApprovalsResponse, ListApprovalsResponse__Output as _secretbroker_v1_ListApprovalsResponse__Output } from '../../secretbroker/v1/ListApprovalsResponse';
import type { ListBreakGlassRequest as _secretbroker_v1_ListBreakGlassRequest, ListBreakGlassRequest__Output as _secretbroker_v1_ListBreakGlassRequest__Output } from '../../secretbroker/v1/ListBreakGlassRequest';
import type { ListBreakGlassResponse as _secretbroker_v1_ListBreakGlassResponse, ListBreakGlassResponse__Output as _secretbroker_v1_ListBreakGlassResponse__Output } from '../../secretbroker/v1/ListBreakGlassResponse';
import type { ListDecisionsRequest as _secretbroker_v1_ListDecisionsRequest, ListDecisionsRequest__Output as _secretbroker_v1_ListDecisionsRequest__Output } from '../../secretbroker/v1/ListDecisionsRequest';
import type { ListDecisionsResponse as _secretbroker_v1_ListDecisionsResponse, ListDecisionsResponse__Output as _secretbroker_v1_ListDecisionsResponse__Output } from '../../secretbroker/v1/ListDecisionsResponse';
import type { ListLeasesRequest as _secretbroker_v1_ListLeasesRequest, ListLeasesRequest__Output as _secretbroker_v1_ListLeasesRequest__Output } from '../../secretbroker/v1/ListLeasesRequest';
import type { ListLeasesResponse as _secretbroker_v1_ListLeasesResponse, ListLeasesResponse__Output as _secretbroker_v1_ListLeasesResponse__Output } from '../../secretbroker/v1/ListLeasesResponse';
import type { ReloadPoliciesRequest as _secretbroker_v1_ReloadPoliciesRequest, ReloadPoliciesRequest__Output as _secretbroker_v1_ReloadPoliciesRequest__Output } from '../../secretbroker/v1/ReloadPoliciesRequest';
import type { ReloadPoliciesResponse as _secretbroker_v1_ReloadPoliciesResponse, ReloadPoliciesResponse__Output as _secretbroker_v1_ReloadPoliciesResponse__Output } from '../../secretbroker/v1/ReloadPoliciesResponse';
import type { ReportSignalRequest as _secretbroker_v1_ReportSignalRequest, ReportSignalRequest__Output as _secretbroker_v1_ReportSignalRequest__Output } from '../../secretbroker/v1/ReportSignalRequest';
import type { ReviewBreakGlassRequest as _secretbroker_v1_ReviewBreakGlassRequest, ReviewBreakGlassRequest__Output as _secretbroker_v1_ReviewBreakGlassRequest__Output } from '../../secretbroker/v1/ReviewBreakGlassRequest';
import type { RevokeBreakGlassRequest as _secretbroker_v1_RevokeBreakGlassRequest, RevokeBreakGlassRequest__Output as _secretbroker_v1_RevokeBreakGlassRequest__Output } from '../../secretbroker/v1/RevokeBreakGlassRequest';
import type { RevokeLeasesRequest as _secretbroker_v1_RevokeLeasesRequest, RevokeLeasesRequest__Output as _secretbroker_v1_RevokeLeasesRequest__Output } from '../../secretbroker/v1/RevokeLeasesRequest';
import type { RevokeLeasesResponse as _secretbroker_v1_RevokeLeasesResponse, RevokeLeasesResponse__Output as _secretbroker_v1_RevokeLeasesResponse__Output } from '../../secretbroker/v1/RevokeLeasesResponse';
import type { RotateEvidenceKeyRequest as _secretbroker_v1_RotateEvidenceKeyRequest, RotateEvidenceKeyRequest__Output as _secretbroker_v1_RotateEvidenceKeyRequest__Output } from '../../secretbroker/v1/RotateEvidenceKeyRequest';
import type { RotateEvidenceKeyResponse as _secretbroker_v1_RotateEvidenceKeyResponse, RotateEvidenceKeyResponse__Output as _secretbroker_v1_RotateEvidenceKeyResponse__Output } from '../../secretbroker/v1/RotateEvidenceKeyResponse';
import type { RotateRequest as _secretbroker_v1_RotateRequest, RotateRequest__Output as _secretbroker_v1_RotateRequest__Output } from '../../secretbroker/v1/RotateRequest';
import type { RotateResponse as _secretbroker_v1_RotateResponse, RotateResponse__Output as _secretbroker_v1_RotateResponse__Output } from '../../secretbroker/v1/RotateResponse';
import type { SetTrustRequest as _secretbroker_v1_SetTrustRequest, SetTrustRequest__Output as _secretbroker_v1_SetTrustRequest__Output } from '../../secretbroker/v1/SetTrustRequest';
import type { TrustState as _secretbroker_v1_TrustState, TrustState__Output as _secretbroker_v1_TrustState__Output } from '../../secretbroker/v1/TrustState';
import type { WhoAmIRequest as _secretbroker_v1_WhoAmIRequest, WhoAmIRequest__Output as _secretbroker_v1_WhoAmIRequest__Output } from '../../secretbroker/v1/WhoAmIRequest';
import type { WhoAmIResponse as _secretbroker_v1_WhoAmIResponse, WhoAmIResponse__Output as _secretbroker_v1_WhoAmIResponse__Output } from '../../secretbroker/v1/WhoAmIResponse';

export interface OperatorClient extends grpc.Client {
  BreakGlass(argument: _secretbroker_v1_BreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  BreakGlass(argument: _secretbroker_v1_BreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  BreakGlass(argument: _secretbroker_v1_BreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  BreakGlass(argument: _secretbroker_v1_BreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  breakGlass(argument: _secretbroker_v1_BreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  breakGlass(argument: _secretbroker_v1_BreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  breakGlass(argument: _secretbroker_v1_BreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  breakGlass(argument: _secretbroker_v1_BreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  
  ConfirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ConfirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ConfirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ConfirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  confirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  confirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  confirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  confirmBreakGlass(argument: _secretbroker_v1_ConfirmBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  
  DecideApproval(argument: _secretbroker_v1_DecideApprovalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  DecideApproval(argument: _secretbroker_v1_DecideApprovalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  DecideApproval(argument: _secretbroker_v1_DecideApprovalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  DecideApproval(argument: _secretbroker_v1_DecideApprovalRequest, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  decideApproval(argument: _secretbroker_v1_DecideApprovalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  decideApproval(argument: _secretbroker_v1_DecideApprovalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  decideApproval(argument: _secretbroker_v1_DecideApprovalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  decideApproval(argument: _secretbroker_v1_DecideApprovalRequest, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  
  Explain(argument: _secretbroker_v1_ExplainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _secretbroker_v1_ExplainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _secretbroker_v1_ExplainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _secretbroker_v1_ExplainRequest, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _secretbroker_v1_ExplainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _secretbroker_v1_ExplainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _secretbroker_v1_ExplainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _secretbroker_v1_ExplainRequest, callback: grpc.requestCallback<_secretbroker_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  
  GetApproval(argument: _secretbroker_v1_GetApprovalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  GetApproval(argument: _secretbroker_v1_GetApprovalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  GetApproval(argument: _secretbroker_v1_GetApprovalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  GetApproval(argument: _secretbroker_v1_GetApprovalRequest, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  getApproval(argument: _secretbroker_v1_GetApprovalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  getApproval(argument: _secretbroker_v1_GetApprovalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  getApproval(argument: _secretbroker_v1_GetApprovalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  getApproval(argument: _secretbroker_v1_GetApprovalRequest, callback: grpc.requestCallback<_secretbroker_v1_Approval__Output>): grpc.ClientUnaryCall;
  
  GetBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  GetBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  GetBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  GetBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  getBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  getBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  getBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  getBreakGlass(argument: _secretbroker_v1_GetBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  
  GetTrust(argument: _secretbroker_v1_GetTrustRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  GetTrust(argument: _secretbroker_v1_GetTrustRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  GetTrust(argument: _secretbroker_v1_GetTrustRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  GetTrust(argument: _secretbroker_v1_GetTrustRequest, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  getTrust(argument: _secretbroker_v1_GetTrustRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  getTrust(argument: _secretbroker_v1_GetTrustRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  getTrust(argument: _secretbroker_v1_GetTrustRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  getTrust(argument: _secretbroker_v1_GetTrustRequest, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  
  ListApprovals(argument: _secretbroker_v1_ListApprovalsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  ListApprovals(argument: _secretbroker_v1_ListApprovalsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  ListApprovals(argument: _secretbroker_v1_ListApprovalsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  ListApprovals(argument: _secretbroker_v1_ListApprovalsRequest, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  listApprovals(argument: _secretbroker_v1_ListApprovalsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  listApprovals(argument: _secretbroker_v1_ListApprovalsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  listApprovals(argument: _secretbroker_v1_ListApprovalsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  listApprovals(argument: _secretbroker_v1_ListApprovalsRequest, callback: grpc.requestCallback<_secretbroker_v1_ListApprovalsResponse__Output>): grpc.ClientUnaryCall;
  
  ListBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ListBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ListBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ListBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  listBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  listBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  listBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  listBreakGlass(argument: _secretbroker_v1_ListBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_ListBreakGlassResponse__Output>): grpc.ClientUnaryCall;
  
  ListDecisions(argument: _secretbroker_v1_ListDecisionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  ListDecisions(argument: _secretbroker_v1_ListDecisionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  ListDecisions(argument: _secretbroker_v1_ListDecisionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  ListDecisions(argument: _secretbroker_v1_ListDecisionsRequest, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  listDecisions(argument: _secretbroker_v1_ListDecisionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  listDecisions(argument: _secretbroker_v1_ListDecisionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  listDecisions(argument: _secretbroker_v1_ListDecisionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  listDecisions(argument: _secretbroker_v1_ListDecisionsRequest, callback: grpc.requestCallback<_secretbroker_v1_ListDecisionsResponse__Output>): grpc.ClientUnaryCall;
  
  ListLeases(argument: _secretbroker_v1_ListLeasesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  ListLeases(argument: _secretbroker_v1_ListLeasesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  ListLeases(argument: _secretbroker_v1_ListLeasesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  ListLeases(argument: _secretbroker_v1_ListLeasesRequest, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  listLeases(argument: _secretbroker_v1_ListLeasesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  listLeases(argument: _secretbroker_v1_ListLeasesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  listLeases(argument: _secretbroker_v1_ListLeasesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  listLeases(argument: _secretbroker_v1_ListLeasesRequest, callback: grpc.requestCallback<_secretbroker_v1_ListLeasesResponse__Output>): grpc.ClientUnaryCall;
  
  ReloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ReloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ReloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  ReloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  reloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  reloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  reloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  reloadPolicies(argument: _secretbroker_v1_ReloadPoliciesRequest, callback: grpc.requestCallback<_secretbroker_v1_ReloadPoliciesResponse__Output>): grpc.ClientUnaryCall;
  
  ReportSignal(argument: _secretbroker_v1_ReportSignalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  ReportSignal(argument: _secretbroker_v1_ReportSignalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  ReportSignal(argument: _secretbroker_v1_ReportSignalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  ReportSignal(argument: _secretbroker_v1_ReportSignalRequest, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  reportSignal(argument: _secretbroker_v1_ReportSignalRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  reportSignal(argument: _secretbroker_v1_ReportSignalRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  reportSignal(argument: _secretbroker_v1_ReportSignalRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  reportSignal(argument: _secretbroker_v1_ReportSignalRequest, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  
  ReviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ReviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ReviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  ReviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  reviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  reviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  reviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  reviewBreakGlass(argument: _secretbroker_v1_ReviewBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  
  RevokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  RevokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  RevokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  RevokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  revokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  revokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  revokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  revokeBreakGlass(argument: _secretbroker_v1_RevokeBreakGlassRequest, callback: grpc.requestCallback<_secretbroker_v1_BreakGlassResponse__Output>): grpc.ClientUnaryCall;
  
  RevokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  RevokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  RevokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  RevokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  revokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  revokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  revokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  revokeLeases(argument: _secretbroker_v1_RevokeLeasesRequest, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeasesResponse__Output>): grpc.ClientUnaryCall;
  
  Rotate(argument: _secretbroker_v1_RotateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  Rotate(argument: _secretbroker_v1_RotateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  Rotate(argument: _secretbroker_v1_RotateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  Rotate(argument: _secretbroker_v1_RotateRequest, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  rotate(argument: _secretbroker_v1_RotateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  rotate(argument: _secretbroker_v1_RotateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  rotate(argument: _secretbroker_v1_RotateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  rotate(argument: _secretbroker_v1_RotateRequest, callback: grpc.requestCallback<_secretbroker_v1_RotateResponse__Output>): grpc.ClientUnaryCall;
  
  RotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  RotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  RotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  RotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  rotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  rotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  rotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  rotateEvidenceKey(argument: _secretbroker_v1_RotateEvidenceKeyRequest, callback: grpc.requestCallback<_secretbroker_v1_RotateEvidenceKeyResponse__Output>): grpc.ClientUnaryCall;
  
  SetTrust(argument: _secretbroker_v1_SetTrustRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  SetTrust(argument: _secretbroker_v1_SetTrustRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  SetTrust(argument: _secretbroker_v1_SetTrustRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  SetTrust(argument: _secretbroker_v1_SetTrustRequest, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  setTrust(argument: _secretbroker_v1_SetTrustRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  setTrust(argument: _secretbroker_v1_SetTrustRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  setTrust(argument: _secretbroker_v1_SetTrustRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  setTrust(argument: _secretbroker_v1_SetTrustRequest, callback: grpc.requestCallback<_secretbroker_v1_TrustState__Output>): grpc.ClientUnaryCall;
  
  WhoAmI(argument: _secretbroker_v1_WhoAmIRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  WhoAmI(argument: _secretbroker_v1_WhoAmIRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  WhoAmI(argument: _secretbroker_v1_WhoAmIRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  WhoAmI(argument: _secretbroker_v1_WhoAmIRequest, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _secretbroker_v1_WhoAmIRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _secretbroker_v1_WhoAmIRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _secretbroker_v1_WhoAmIRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  whoAmI(argument: _secretbroker_v1_WhoAmIRequest, callback: grpc.requestCallback<_secretbroker_v1_WhoAmIResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface OperatorHandlers extends grpc.UntypedServiceImplementation {
  BreakGlass: grpc.handleUnaryCall<_secretbroker_v1_BreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse>;
  
  ConfirmBreakGlass: grpc.handleUnaryCall<_secretbroker_v1_ConfirmBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse>;
  
  DecideApproval: grpc.handleUnaryCall<_secretbroker_v1_DecideApprovalRequest__Output, _secretbroker_v1_Approval>;
  
  Explain: grpc.handleUnaryCall<_secretbroker_v1_ExplainRequest__Output, _secretbroker_v1_ExplainResponse>;
  
  GetApproval: grpc.handleUnaryCall<_secretbroker_v1_GetApprovalRequest__Output, _secretbroker_v1_Approval>;
  
  GetBreakGlass: grpc.handleUnaryCall<_secretbroker_v1_GetBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse>;
  
  GetTrust: grpc.handleUnaryCall<_secretbroker_v1_GetTrustRequest__Output, _secretbroker_v1_TrustState>;
  
  ListApprovals: grpc.handleUnaryCall<_secretbroker_v1_ListApprovalsRequest__Output, _secretbroker_v1_ListApprovalsResponse>;
  
  ListBreakGlass: grpc.handleUnaryCall<_secretbroker_v1_ListBreakGlassRequest__Output, _secretbroker_v1_ListBreakGlassResponse>;
  
  ListDecisions: grpc.handleUnaryCall<_secretbroker_v1_ListDecisionsRequest__Output, _secretbroker_v1_ListDecisionsResponse>;
  
  ListLeases: grpc.handleUnaryCall<_secretbroker_v1_ListLeasesRequest__Output, _secretbroker_v1_ListLeasesResponse>;
  
  ReloadPolicies: grpc.handleUnaryCall<_secretbroker_v1_ReloadPoliciesRequest__Output, _secretbroker_v1_ReloadPoliciesResponse>;
  
  ReportSignal: grpc.handleUnaryCall<_secretbroker_v1_ReportSignalRequest__Output, _secretbroker_v1_TrustState>;
  
  ReviewBreakGlass: grpc.handleUnaryCall<_secretbroker_v1_ReviewBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse>;
  
  RevokeBreakGlass: grpc.handleUnaryCall<_secretbroker_v1_RevokeBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse>;
  
  RevokeLeases: grpc.handleUnaryCall<_secretbroker_v1_RevokeLeasesRequest__Output, _secretbroker_v1_RevokeLeasesResponse>;
  
  Rotate: grpc.handleUnaryCall<_secretbroker_v1_RotateRequest__Output, _secretbroker_v1_RotateResponse>;
  
  RotateEvidenceKey: grpc.handleUnaryCall<_secretbroker_v1_RotateEvidenceKeyRequest__Output, _secretbroker_v1_RotateEvidenceKeyResponse>;
  
  SetTrust: grpc.handleUnaryCall<_secretbroker_v1_SetTrustRequest__Output, _secretbroker_v1_TrustState>;
  
  WhoAmI: grpc.handleUnaryCall<_secretbroker_v1_WhoAmIRequest__Output, _secretbroker_v1_WhoAmIResponse>;
  
}

export interface OperatorDefinition extends grpc.ServiceDefinition {
  BreakGlass: MethodDefinition<_secretbroker_v1_BreakGlassRequest, _secretbroker_v1_BreakGlassResponse, _secretbroker_v1_BreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse__Output>
  ConfirmBreakGlass: MethodDefinition<_secretbroker_v1_ConfirmBreakGlassRequest, _secretbroker_v1_BreakGlassResponse, _secretbroker_v1_ConfirmBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse__Output>
  DecideApproval: MethodDefinition<_secretbroker_v1_DecideApprovalRequest, _secretbroker_v1_Approval, _secretbroker_v1_DecideApprovalRequest__Output, _secretbroker_v1_Approval__Output>
  Explain: MethodDefinition<_secretbroker_v1_ExplainRequest, _secretbroker_v1_ExplainResponse, _secretbroker_v1_ExplainRequest__Output, _secretbroker_v1_ExplainResponse__Output>
  GetApproval: MethodDefinition<_secretbroker_v1_GetApprovalRequest, _secretbroker_v1_Approval, _secretbroker_v1_GetApprovalRequest__Output, _secretbroker_v1_Approval__Output>
  GetBreakGlass: MethodDefinition<_secretbroker_v1_GetBreakGlassRequest, _secretbroker_v1_BreakGlassResponse, _secretbroker_v1_GetBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse__Output>
  GetTrust: MethodDefinition<_secretbroker_v1_GetTrustRequest, _secretbroker_v1_TrustState, _secretbroker_v1_GetTrustRequest__Output, _secretbroker_v1_TrustState__Output>
  ListApprovals: MethodDefinition<_secretbroker_v1_ListApprovalsRequest, _secretbroker_v1_ListApprovalsResponse, _secretbroker_v1_ListApprovalsRequest__Output, _secretbroker_v1_ListApprovalsResponse__Output>
  ListBreakGlass: MethodDefinition<_secretbroker_v1_ListBreakGlassRequest, _secretbroker_v1_ListBreakGlassResponse, _secretbroker_v1_ListBreakGlassRequest__Output, _secretbroker_v1_ListBreakGlassResponse__Output>
  ListDecisions: MethodDefinition<_secretbroker_v1_ListDecisionsRequest, _secretbroker_v1_ListDecisionsResponse, _secretbroker_v1_ListDecisionsRequest__Output, _secretbroker_v1_ListDecisionsResponse__Output>
  ListLeases: MethodDefinition<_secretbroker_v1_ListLeasesRequest, _secretbroker_v1_ListLeasesResponse, _secretbroker_v1_ListLeasesRequest__Output, _secretbroker_v1_ListLeasesResponse__Output>
  ReloadPolicies: MethodDefinition<_secretbroker_v1_ReloadPoliciesRequest, _secretbroker_v1_ReloadPoliciesResponse, _secretbroker_v1_ReloadPoliciesRequest__Output, _secretbroker_v1_ReloadPoliciesResponse__Output>
  ReportSignal: MethodDefinition<_secretbroker_v1_ReportSignalRequest, _secretbroker_v1_TrustState, _secretbroker_v1_ReportSignalRequest__Output, _secretbroker_v1_TrustState__Output>
  ReviewBreakGlass: MethodDefinition<_secretbroker_v1_ReviewBreakGlassRequest, _secretbroker_v1_BreakGlassResponse, _secretbroker_v1_ReviewBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse__Output>
  RevokeBreakGlass: MethodDefinition<_secretbroker_v1_RevokeBreakGlassRequest, _secretbroker_v1_BreakGlassResponse, _secretbroker_v1_RevokeBreakGlassRequest__Output, _secretbroker_v1_BreakGlassResponse__Output>
  RevokeLeases: MethodDefinition<_secretbroker_v1_RevokeLeasesRequest, _secretbroker_v1_RevokeLeasesResponse, _secretbroker_v1_RevokeLeasesRequest__Output, _secretbroker_v1_RevokeLeasesResponse__Output>
  Rotate: MethodDefinition<_secretbroker_v1_RotateRequest, _secretbroker_v1_RotateResponse, _secretbroker_v1_RotateRequest__Output, _secretbroker_v1_RotateResponse__Output>
  RotateEvidenceKey: MethodDefinition<_secretbroker_v1_RotateEvidenceKeyRequest, _secretbroker_v1_RotateEvidenceKeyResponse, _secretbroker_v1_RotateEvidenceKeyRequest__Output, _secretbroker_v1_RotateEvidenceKeyResponse__Output>
  SetTrust: MethodDefinition<_secretbroker_v1_SetTrustRequest, _secretbroker_v1_TrustState, _secretbroker_v1_SetTrustRequest__Output, _secretbroker_v1_TrustState__Output>
  WhoAmI: MethodDefinition<_secretbroker_v1_WhoAmIRequest, _secretbroker_v1_WhoAmIResponse, _secretbroker_v1_WhoAmIRequest__Output, _secretbroker_v1_WhoAmIResponse__Output>
}
