import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value';
import type { AgentBrokerClient as _secretbroker_v1_AgentBrokerClient, AgentBrokerDefinition as _secretbroker_v1_AgentBrokerDefinition } from './secretbroker/v1/AgentBroker';
import type { Approval as _secretbroker_v1_Approval, Approval__Output as _secretbroker_v1_Approval__Output } from './secretbroker/v1/Approval';
import type { ApprovalProgress as _secretbroker_v1_ApprovalProgress, ApprovalProgress__Output as _secretbroker_v1_ApprovalProgress__Output } from './secretbroker/v1/ApprovalProgress';
import type { ApprovalVote as _secretbroker_v1_ApprovalVote, ApprovalVote__Output as _secretbroker_v1_ApprovalVote__Output } from './secretbroker/v1/ApprovalVote';
import type { BreakGlassGrant as _secretbroker_v1_BreakGlassGrant, BreakGlassGrant__Output as _secretbroker_v1_BreakGlassGrant__Output } from './secretbroker/v1/BreakGlassGrant';
import type { BreakGlassOverride as _secretbroker_v1_BreakGlassOverride, BreakGlassOverride__Output as _secretbroker_v1_BreakGlassOverride__Output } from './secretbroker/v1/BreakGlassOverride';
import type { BreakGlassRequest as _secretbroker_v1_BreakGlassRequest, BreakGlassRequest__Output as _secretbroker_v1_BreakGlassRequest__Output } from './secretbroker/v1/BreakGlassRequest';
import type { BreakGlassResponse as _secretbroker_v1_BreakGlassResponse, BreakGlassResponse__Output as _secretbroker_v1_BreakGlassResponse__Output } from './secretbroker/v1/BreakGlassResponse';
import type { Candidate as _secretbroker_v1_Candidate, Candidate__Output as _secretbroker_v1_Candidate__Output } from './secretbroker/v1/Candidate';
import type { Checkpoint as _secretbroker_v1_Checkpoint, Checkpoint__Output as _secretbroker_v1_Checkpoint__Output } from './secretbroker/v1/Checkpoint';
import type { ConfirmBreakGlassRequest as _secretbroker_v1_ConfirmBreakGlassRequest, ConfirmBreakGlassRequest__Output as _secretbroker_v1_ConfirmBreakGlassRequest__Output } from './secretbroker/v1/ConfirmBreakGlassRequest';
import type { ConsistencyProof as _secretbroker_v1_ConsistencyProof, ConsistencyProof__Output as _secretbroker_v1_ConsistencyProof__Output } from './secretbroker/v1/ConsistencyProof';
import type { DatabaseCredential as _secretbroker_v1_DatabaseCredential, DatabaseCredential__Output as _secretbroker_v1_DatabaseCredential__Output } from './secretbroker/v1/DatabaseCredential';
import type { DecideApprovalRequest as _secretbroker_v1_DecideApprovalRequest, DecideApprovalRequest__Output as _secretbroker_v1_DecideApprovalRequest__Output } from './secretbroker/v1/DecideApprovalRequest';
import type { DecisionRecord as _secretbroker_v1_DecisionRecord, DecisionRecord__Output as _secretbroker_v1_DecisionRecord__Output } from './secretbroker/v1/DecisionRecord';
import type { EvidenceClient as _secretbroker_v1_EvidenceClient, EvidenceDefinition as _secretbroker_v1_EvidenceDefinition } from './secretbroker/v1/Evidence';
import type { EvidenceEntry as _secretbroker_v1_EvidenceEntry, EvidenceEntry__Output as _secretbroker_v1_EvidenceEntry__Output } from './secretbroker/v1/EvidenceEntry';
import type { EvidenceRef as _secretbroker_v1_EvidenceRef, EvidenceRef__Output as _secretbroker_v1_EvidenceRef__Output } from './secretbroker/v1/EvidenceRef';
import type { ExplainRequest as _secretbroker_v1_ExplainRequest, ExplainRequest__Output as _secretbroker_v1_ExplainRequest__Output } from './secretbroker/v1/ExplainRequest';
import type { ExplainResponse as _secretbroker_v1_ExplainResponse, ExplainResponse__Output as _secretbroker_v1_ExplainResponse__Output } from './secretbroker/v1/ExplainResponse';
import type { ExplainedApproval as _secretbroker_v1_ExplainedApproval, ExplainedApproval__Output as _secretbroker_v1_ExplainedApproval__Output } from './secretbroker/v1/ExplainedApproval';
import type { ExplainedBudget as _secretbroker_v1_ExplainedBudget, ExplainedBudget__Output as _secretbroker_v1_ExplainedBudget__Output } from './secretbroker/v1/ExplainedBudget';
import type { ExplainedVotes as _secretbroker_v1_ExplainedVotes, ExplainedVotes__Output as _secretbroker_v1_ExplainedVotes__Output } from './secretbroker/v1/ExplainedVotes';
import type { Explanation as _secretbroker_v1_Explanation, Explanation__Output as _secretbroker_v1_Explanation__Output } from './secretbroker/v1/Explanation';
import type { GetApprovalRequest as _secretbroker_v1_GetApprovalRequest, GetApprovalRequest__Output as _secretbroker_v1_GetApprovalRequest__Output } from './secretbroker/v1/GetApprovalRequest';
import type { GetBreakGlassRequest as _secretbroker_v1_GetBreakGlassRequest, GetBreakGlassRequest__Output as _secretbroker_v1_GetBreakGlassRequest__Output } from './secretbroker/v1/GetBreakGlassRequest';
import type { GetCheckpointRequest as _secretbroker_v1_GetCheckpointRequest, GetCheckpointRequest__Output as _secretbroker_v1_GetCheckpointRequest__Output } from './secretbroker/v1/GetCheckpointRequest';
import type { GetConsistencyProofRequest as _secretbroker_v1_GetConsistencyProofRequest, GetConsistencyProofRequest__Output as _secretbroker_v1_GetConsistencyProofRequest__Output } from './secretbroker/v1/GetConsistencyProofRequest';
import type { GetEntryRequest as _secretbroker_v1_GetEntryRequest, GetEntryRequest__Output as _secretbroker_v1_GetEntryRequest__Output } from './secretbroker/v1/GetEntryRequest';
import type { GetLeaseRequest as _secretbroker_v1_GetLeaseRequest, GetLeaseRequest__Output as _secretbroker_v1_GetLeaseRequest__Output } from './secretbroker/v1/GetLeaseRequest';
import type { GetReceiptRequest as _secretbroker_v1_GetReceiptRequest, GetReceiptRequest__Output as _secretbroker_v1_GetReceiptRequest__Output } from './secretbroker/v1/GetReceiptRequest';
import type { GetTrustRequest as _secretbroker_v1_GetTrustRequest, GetTrustRequest__Output as _secretbroker_v1_GetTrustRequest__Output } from './secretbroker/v1/GetTrustRequest';
import type { HeaderValue as _secretbroker_v1_HeaderValue, HeaderValue__Output as _secretbroker_v1_HeaderValue__Output } from './secretbroker/v1/HeaderValue';
import type { InvokeRequest as _secretbroker_v1_InvokeRequest, InvokeRequest__Output as _secretbroker_v1_InvokeRequest__Output } from './secretbroker/v1/InvokeRequest';
import type { InvokeResponse as _secretbroker_v1_InvokeResponse, InvokeResponse__Output as _secretbroker_v1_InvokeResponse__Output } from './secretbroker/v1/InvokeResponse';
import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from './secretbroker/v1/Lease';
import type { LeaseRequest as _secretbroker_v1_LeaseRequest, LeaseRequest__Output as _secretbroker_v1_LeaseRequest__Output } from './secretbroker/v1/LeaseRequest';
import type { LeaseResponse as _secretbroker_v1_LeaseResponse, LeaseResponse__Output as _secretbroker_v1_LeaseResponse__Output } from './secretbroker/v1/LeaseResponse';
import type { ListApprovalsRequest as _secretbroker_v1_ListApprovalsRequest, ListApprovalsRequest__Output as _secretbroker_v1_ListApprovalsRequest__Output } from './secretbroker/v1/ListApprovalsRequest';
import type { ListApprovalsResponse as _secretbroker_v1_ListApprovalsResponse, ListApprovalsResponse__Output as _secretbroker_v1_ListApprovalsResponse__Output } from './secretbroker/v1/ListApprovalsResponse';
import type { ListBreakGlassRequest as _secretbroker_v1_ListBreakGlassRequest, ListBreakGlassRequest__Output as _secretbroker_v1_ListBreakGlassRequest__Output } from './secretbroker/v1/ListBreakGlassRequest';
import type { ListBreakGlassResponse as _secretbroker_v1_ListBreakGlassResponse, ListBreakGlassResponse__Output as _secretbroker_v1_ListBreakGlassResponse__Output } from './secretbroker/v1/ListBreakGlassResponse';
import type { ListDecisionsRequest as _secretbroker_v1_ListDecisionsRequest, ListDecisionsRequest__Output as _secretbroker_v1_ListDecisionsRequest__Output } from './secretbroker/v1/ListDecisionsRequest';
import type { ListDecisionsResponse as _secretbroker_v1_ListDecisionsResponse, ListDecisionsResponse__Output as _secretbroker_v1_ListDecisionsResponse__Output } from './secretbroker/v1/ListDecisionsResponse';
import type { ListLeasesRequest as _secretbroker_v1_ListLeasesRequest, ListLeasesRequest__Output as _secretbroker_v1_ListLeasesRequest__Output } from './secretbroker/v1/ListLeasesRequest';
import type { ListLeasesResponse as _secretbroker_v1_ListLeasesResponse, ListLeasesResponse__Output as _secretbroker_v1_ListLeasesResponse__Output } from './secretbroker/v1/ListLeasesResponse';
import type { OperatorClient as _secretbroker_v1_OperatorClient, OperatorDefinition as _secretbroker_v1_OperatorDefinition } from './secretbroker/v1/Operator';
import type { PolicyRef as _secretbroker_v1_PolicyRef, PolicyRef__Output as _secretbroker_v1_PolicyRef__Output } from './secretbroker/v1/PolicyRef';
import type { Receipt as _secretbroker_v1_Receipt, Receipt__Output as _secretbroker_v1_Receipt__Output } from './secretbroker/v1/Receipt';
import type { ReloadPoliciesRequest as _secretbroker_v1_ReloadPoliciesRequest, ReloadPoliciesRequest__Output as _secretbroker_v1_ReloadPoliciesRequest__Output } from './secretbroker/v1/ReloadPoliciesRequest';
import type { ReloadPoliciesResponse as _secretbroker_v1_ReloadPoliciesResponse, ReloadPoliciesResponse__Output as _secretbroker_v1_ReloadPoliciesResponse__Output } from './secretbroker/v1/ReloadPoliciesResponse';
import type { RenewLeaseRequest as _secretbroker_v1_RenewLeaseRequest, RenewLeaseRequest__Output as _secretbroker_v1_RenewLeaseRequest__Output } from './secretbroker/v1/RenewLeaseRequest';
import type { ReportSignalRequest as _secretbroker_v1_ReportSignalRequest, ReportSignalRequest__Output as _secretbroker_v1_ReportSignalRequest__Output } from './secretbroker/v1/ReportSignalRequest';
import type { ReviewBreakGlassRequest as _secretbroker_v1_ReviewBreakGlassRequest, ReviewBreakGlassRequest__Output as _secretbroker_v1_ReviewBreakGlassRequest__Output } from './secretbroker/v1/ReviewBreakGlassRequest';
import type { RevokeBreakGlassRequest as _secretbroker_v1_RevokeBreakGlassRequest, RevokeBreakGlassRequest__Output as _secretbroker_v1_RevokeBreakGlassRequest__Output } from './secretbroker/v1/RevokeBreakGlassRequest';
import type { RevokeLeaseRequest as _secretbroker_v1_RevokeLeaseRequest, RevokeLeaseRequest__Output as _secretbroker_v1_RevokeLeaseRequest__Output } from './secretbroker/v1/RevokeLeaseRequest';
import type { RevokeLeaseResponse as _secretbroker_v1_RevokeLeaseResponse, RevokeLeaseResponse__Output as _secretbroker_v1_RevokeLeaseResponse__Output } from './secretbroker/v1/RevokeLeaseResponse';
import type { RevokeLeasesRequest as _secretbroker_v1_RevokeLeasesRequest, RevokeLeasesRequest__Output as _secretbroker_v1_RevokeLeasesRequest__Output } from './secretbroker/v1/RevokeLeasesRequest';
import type { RevokeLeasesResponse as _secretbroker_v1_RevokeLeasesResponse, RevokeLeasesResponse__Output as _secretbroker_v1_RevokeLeasesResponse__Output } from './secretbroker/v1/RevokeLeasesResponse';
import type { RotateEvidenceKeyRequest as _secretbroker_v1_RotateEvidenceKeyRequest, RotateEvidenceKeyRequest__Output as _secretbroker_v1_RotateEvidenceKeyRequest__Output } from './secretbroker/v1/RotateEvidenceKeyRequest';
import type { RotateEvidenceKeyResponse as _secretbroker_v1_RotateEvidenceKeyResponse, RotateEvidenceKeyResponse__Output as _secretbroker_v1_RotateEvidenceKeyResponse__Output } from './secretbroker/v1/RotateEvidenceKeyResponse';
import type { RotateRequest as _secretbroker_v1_RotateRequest, RotateRequest__Output as _secretbroker_v1_RotateRequest__Output } from './secretbroker/v1/RotateRequest';
import type { RotateResponse as _secretbroker_v1_RotateResponse, RotateResponse__Output as _secretbroker_v1_RotateResponse__Output } from './secretbroker/v1/RotateResponse';
import type { RotationResult as _secretbroker_v1_RotationResult, RotationResult__Output as _secretbroker_v1_RotationResult__Output } from './secretbroker/v1/RotationResult';
import type { SetTrustRequest as _secretbroker_v1_SetTrustRequest, SetTrustRequest__Output as _secretbroker_v1_SetTrustRequest__Output } from './secretbroker/v1/SetTrustRequest';
import type { TrustChange as _secretbroker_v1_TrustChange, TrustChange__Output as _secretbroker_v1_TrustChange__Output } from './secretbroker/v1/TrustChange';
import type { TrustInfo as _secretbroker_v1_TrustInfo, TrustInfo__Output as _secretbroker_v1_TrustInfo__Output } from './secretbroker/v1/TrustInfo';
import type { TrustState as _secretbroker_v1_TrustState, TrustState__Output as _secretbroker_v1_TrustState__Output } from './secretbroker/v1/TrustState';
import type { WatchApprovalRequest as _secretbroker_v1_WatchApprovalRequest, WatchApprovalRequest__Output as _secretbroker_v1_WatchApprovalRequest__Output } from './secretbroker/v1/WatchApprovalRequest';
import type { WhoAmIRequest as _secretbroker_v1_WhoAmIRequest, WhoAmIRequest__Output as _secretbroker_v1_WhoAmIRequest__Output } from './secretbroker/v1/WhoAmIRequest';
import type { WhoAmIResponse as _secretbroker_v1_WhoAmIResponse, WhoAmIResponse__Output as _secretbroker_v1_WhoAmIResponse__Output } from './secretbroker/v1/WhoAmIResponse';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
  secretbroker: {
    v1: {
      AgentBroker: SubtypeConstructor<typeof grpc.Client, _secretbroker_v1_AgentBrokerClient> & { service: _secretbroker_v1_AgentBrokerDefinition }
      Approval: MessageTypeDefinition<_secretbroker_v1_Approval, _secretbroker_v1_Approval__Output>
      ApprovalProgress: MessageTypeDefinition<_secretbroker_v1_ApprovalProgress, _secretbroker_v1_ApprovalProgress__Output>
      ApprovalState: EnumTypeDefinition
      ApprovalVote: MessageTypeDefinition<_secretbroker_v1_ApprovalVote, _secretbroker_v1_ApprovalVote__Output>
      BreakGlassGrant: MessageTypeDefinition<_secretbroker_v1_BreakGlassGrant, _secretbroker_v1_BreakGlassGrant__Output>
      BreakGlassOverride: MessageTypeDefinition<_secretbroker_v1_BreakGlassOverride, _secretbroker_v1_BreakGlassOverride__Output>
      BreakGlassRequest: MessageTypeDefinition<_secretbroker_v1_BreakGlassRequest, _secretbroker_v1_BreakGlassRequest__Output>
      BreakGlassResponse: MessageTypeDefinition<_secretbroker_v1_BreakGlassResponse, _secretbroker_v1_BreakGlassResponse__Output>
      Candidate: MessageTypeDefinition<_secretbroker_v1_Candidate, _secretbroker_v1_Candidate__Output>
      Checkpoint: MessageTypeDefinition<_secretbroker_v1_Checkpoint, _secretbroker_v1_Checkpoint__Output>
      ConfirmBreakGlassRequest: MessageTypeDefinition<_secretbroker_v1_ConfirmBreakGlassRequest, _secretbroker_v1_ConfirmBreakGlassRequest__Output>
      ConsistencyProof: MessageTypeDefinition<_secretbroker_v1_ConsistencyProof, _secretbroker_v1_ConsistencyProof__Output>
      DatabaseCredential: MessageTypeDefinition<_secretbroker_v1_DatabaseCredential, _secretbroker_v1_DatabaseCredential__Output>
      DecideApprovalRequest: MessageTypeDefinition<_secretbroker_v1_DecideApprovalRequest, _secretbroker_v1_DecideApprovalRequest__Output>
      DecisionRecord: MessageTypeDefinition<_secretbroker_v1_DecisionRecord, _secretbroker_v1_DecisionRecord__Output>
      DecisionStatus: EnumTypeDefinition
      Evidence: SubtypeConstructor<typeof grpc.Client, _secretbroker_v1_EvidenceClient> & { service: _secretbroker_v1_EvidenceDefinition }
      EvidenceEntry: MessageTypeDefinition<_secretbroker_v1_EvidenceEntry, _secretbroker_v1_EvidenceEntry__Output>
      EvidenceRef: MessageTypeDefinition<_secretbroker_v1_EvidenceRef, _secretbroker_v1_EvidenceRef__Output>
      ExplainRequest: MessageTypeDefinition<_secretbroker_v1_ExplainRequest, _secretbroker_v1_ExplainRequest__Output>
      ExplainResponse: MessageTypeDefinition<_secretbroker_v1_ExplainResponse, _secretbroker_v1_ExplainResponse__Output>
      ExplainedApproval: MessageTypeDefinition<_secretbroker_v1_ExplainedApproval, _secretbroker_v1_ExplainedApproval__Output>
      ExplainedBudget: MessageTypeDefinition<_secretbroker_v1_ExplainedBudget, _secretbroker_v1_ExplainedBudget__Output>
      ExplainedVotes: MessageTypeDefinition<_secretbroker_v1_ExplainedVotes, _secretbroker_v1_ExplainedVotes__Output>
      Explanation: MessageTypeDefinition<_secretbroker_v1_Explanation, _secretbroker_v1_Explanation__Output>
      GetApprovalRequest: MessageTypeDefinition<_secretbroker_v1_GetApprovalRequest, _secretbroker_v1_GetApprovalRequest__Output>
      GetBreakGlassRequest: MessageTypeDefinition<_secretbroker_v1_GetBreakGlassRequest, _secretbroker_v1_GetBreakGlassRequest__Output>
      GetCheckpointRequest: MessageTypeDefinition<_secretbroker_v1_GetCheckpointRequest, _secretbroker_v1_GetCheckpointRequest__Output>
      GetConsistencyProofRequest: MessageTypeDefinition<_secretbroker_v1_GetConsistencyProofRequest, _secretbroker_v1_GetConsistencyProofRequest__Output>
      GetEntryRequest: MessageTypeDefinition<_secretbroker_v1_GetEntryRequest, _secretbroker_v1_GetEntryRequest__Output>
      GetLeaseRequest: MessageTypeDefinition<_secretbroker_v1_GetLeaseRequest, _secretbroker_v1_GetLeaseRequest__Output>
      GetReceiptRequest: MessageTypeDefinition<_secretbroker_v1_GetReceiptRequest, _secretbroker_v1_GetReceiptRequest__Output>
      GetTrustRequest: MessageTypeDefinition<_secretbroker_v1_GetTrustRequest, _secretbroker_v1_GetTrustRequest__Output>
      HeaderValue: MessageTypeDefinition<_secretbroker_v1_HeaderValue, _secretbroker_v1_HeaderValue__Output>
      InvokeRequest: MessageTypeDefinition<_secretbroker_v1_InvokeRequest, _secretbroker_v1_InvokeRequest__Output>
      InvokeResponse: MessageTypeDefinition<_secretbroker_v1_InvokeResponse, _secretbroker_v1_InvokeResponse__Output>
      Lease: MessageTypeDefinition<_secretbroker_v1_Lease, _secretbroker_v1_Lease__Output>
      LeaseRequest: MessageTypeDefinition<_secretbroker_v1_LeaseRequest, _secretbroker_v1_LeaseRequest__Output>
      LeaseResponse: MessageTypeDefinition<_secretbroker_v1_LeaseResponse, _secretbroker_v1_LeaseResponse__Output>
      LeaseStatus: EnumTypeDefinition
      ListApprovalsRequest: MessageTypeDefinition<_secretbroker_v1_ListApprovalsRequest, _secretbroker_v1_ListApprovalsRequest__Output>
      ListApprovalsResponse: MessageTypeDefinition<_secretbroker_v1_ListApprovalsResponse, _secretbroker_v1_ListApprovalsResponse__Output>
      ListBreakGlassRequest: MessageTypeDefinition<_secretbroker_v1_ListBreakGlassRequest, _secretbroker_v1_ListBreakGlassRequest__Output>
      ListBreakGlassResponse: MessageTypeDefinition<_secretbroker_v1_ListBreakGlassResponse, _secretbroker_v1_ListBreakGlassResponse__Output>
      ListDecisionsRequest: MessageTypeDefinition<_secretbroker_v1_ListDecisionsRequest, _secretbroker_v1_ListDecisionsRequest__Output>
      ListDecisionsResponse: MessageTypeDefinition<_secretbroker_v1_ListDecisionsResponse, _secretbroker_v1_ListDecisionsResponse__Output>
      ListLeasesRequest: MessageTypeDefinition<_secretbroker_v1_ListLeasesRequest, _secretbroker_v1_ListLeasesRequest__Output>
      ListLeasesResponse: MessageTypeDefinition<_secretbroker_v1_ListLeasesResponse, _secretbroker_v1_ListLeasesResponse__Output>
      Operator: SubtypeConstructor<typeof grpc.Client, _secretbroker_v1_OperatorClient> & { service: _secretbroker_v1_OperatorDefinition }
      PolicyRef: MessageTypeDefinition<_secretbroker_v1_PolicyRef, _secretbroker_v1_PolicyRef__Output>
      Receipt: MessageTypeDefinition<_secretbroker_v1_Receipt, _secretbroker_v1_Receipt__Output>
      ReloadPoliciesRequest: MessageTypeDefinition<_secretbroker_v1_ReloadPoliciesRequest, _secretbroker_v1_ReloadPoliciesRequest__Output>
      ReloadPoliciesResponse: MessageTypeDefinition<_secretbroker_v1_ReloadPoliciesResponse, _secretbroker_v1_ReloadPoliciesResponse__Output>
      RenewLeaseRequest: MessageTypeDefinition<_secretbroker_v1_RenewLeaseRequest, _secretbroker_v1_RenewLeaseRequest__Output>
      ReportSignalRequest: MessageTypeDefinition<_secretbroker_v1_ReportSignalRequest, _secretbroker_v1_ReportSignalRequest__Output>
      ReviewBreakGlassRequest: MessageTypeDefinition<_secretbroker_v1_ReviewBreakGlassRequest, _secretbroker_v1_ReviewBreakGlassRequest__Output>
      RevokeBreakGlassRequest: MessageTypeDefinition<_secretbroker_v1_RevokeBreakGlassRequest, _secretbroker_v1_RevokeBreakGlassRequest__Output>
      RevokeLeaseRequest: MessageTypeDefinition<_secretbroker_v1_RevokeLeaseRequest, _secretbroker_v1_RevokeLeaseRequest__Output>
      RevokeLeaseResponse: MessageTypeDefinition<_secretbroker_v1_RevokeLeaseResponse, _secretbroker_v1_RevokeLeaseResponse__Output>
      RevokeLeasesRequest: MessageTypeDefinition<_secretbroker_v1_RevokeLeasesRequest, _secretbroker_v1_RevokeLeasesRequest__Output>
      RevokeLeasesResponse: MessageTypeDefinition<_secretbroker_v1_RevokeLeasesResponse, _secretbroker_v1_RevokeLeasesResponse__Output>
      RotateEvidenceKeyRequest: MessageTypeDefinition<_secretbroker_v1_RotateEvidenceKeyRequest, _secretbroker_v1_RotateEvidenceKeyRequest__Output>
      RotateEvidenceKeyResponse: MessageTypeDefinition<_secretbroker_v1_RotateEvidenceKeyResponse, _secretbroker_v1_RotateEvidenceKeyResponse__Output>
      RotateRequest: MessageTypeDefinition<_secretbroker_v1_RotateRequest, _secretbroker_v1_RotateRequest__Output>
      RotateResponse: MessageTypeDefinition<_secretbroker_v1_RotateResponse, _secretbroker_v1_RotateResponse__Output>
      RotationResult: MessageTypeDefinition<_secretbroker_v1_RotationResult, _secretbroker_v1_RotationResult__Output>
      SetTrustRequest: MessageTypeDefinition<_secretbroker_v1_SetTrustRequest, _secretbroker_v1_SetTrustRequest__Output>
      TrustChange: MessageTypeDefinition<_secretbroker_v1_TrustChange, _secretbroker_v1_TrustChange__Output>
      TrustInfo: MessageTypeDefinition<_secretbroker_v1_TrustInfo, _secretbroker_v1_TrustInfo__Output>
      TrustState: MessageTypeDefinition<_secretbroker_v1_TrustState, _secretbroker_v1_TrustState__Output>
      WatchApprovalRequest: MessageTypeDefinition<_secretbroker_v1_WatchApprovalRequest, _secretbroker_v1_WatchApprovalRequest__Output>
      WhoAmIRequest: MessageTypeDefinition<_secretbroker_v1_WhoAmIRequest, _secretbroker_v1_WhoAmIRequest__Output>
      WhoAmIResponse: MessageTypeDefinition<_secretbroker_v1_WhoAmIResponse, _secretbroker_v1_WhoAmIResponse__Output>
    }
  }
}

