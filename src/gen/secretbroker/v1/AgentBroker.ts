// Original file: proto/secretbroker/v1/broker.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Approval as _secretbroker_v1_Approval, Approval__Output as _secretbroker_v1_Approval__Output } from '../../secretbroker/v1/Approval';
import type { GetLeaseRequest as _secretbroker_v1_GetLeaseRequest, GetLeaseRequest__Output as _secretbroker_v1_GetLeaseRequest__Output } from '../../secretbroker/v1/GetLeaseRequest';
import type { InvokeRequest as _secretbroker_v1_InvokeRequest, InvokeRequest__Output as _secretbroker_v1_InvokeRequest__Output } from '../../secretbroker/v1/InvokeRequest';
import type { InvokeResponse as _secretbroker_v1_InvokeResponse, InvokeResponse__Output as _secretbroker_v1_InvokeResponse__Output } from '../../secretbroker/v1/InvokeResponse';
import type { Lease as _secretbroker_v1_Lease, Lease__Output as _secretbroker_v1_Lease__Output } from '../../secretbroker/v1/Lease';
import type { LeaseRequest as _secretbroker_v1_LeaseRequest, LeaseRequest__Output as _secretbroker_v1_LeaseRequest__Output } from '../../secretbroker/v1/LeaseRequest';
import type { LeaseResponse as _secretbroker_v1_LeaseResponse, LeaseResponse__Output as _secretbroker_v1_LeaseResponse__Output } from '../../secretbroker/v1/LeaseResponse';
import type { RenewLeaseRequest as _secretbroker_v1_RenewLeaseRequest, RenewLeaseRequest__Output as _secretbroker_v1_RenewLeaseRequest__Output } from '../../secretbroker/v1/RenewLeaseRequest';
import type { RevokeLeaseRequest as _secretbroker_v1_RevokeLeaseRequest, RevokeLeaseRequest__Output as _secretbroker_v1_RevokeLeaseRequest__Output } from '../../secretbroker/v1/RevokeLeaseRequest';
import type { RevokeLeaseResponse as _secretbroker_v1_RevokeLeaseResponse, RevokeLeaseResponse__Output as _secretbroker_v1_RevokeLeaseResponse__Output } from '../../secretbroker/v1/RevokeLeaseResponse';
import type { WatchApprovalRequest as _secretbroker_v1_WatchApprovalRequest, WatchApprovalRequest__Output as _secretbroker_v1_WatchApprovalRequest__Output } from '../../secretbroker/v1/WatchApprovalRequest';

export interface AgentBrokerClient extends grpc.Client {
  GetLease(argument: _secretbroker_v1_GetLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  GetLease(argument: _secretbroker_v1_GetLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  GetLease(argument: _secretbroker_v1_GetLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  GetLease(argument: _secretbroker_v1_GetLeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  getLease(argument: _secretbroker_v1_GetLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  getLease(argument: _secretbroker_v1_GetLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  getLease(argument: _secretbroker_v1_GetLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  getLease(argument: _secretbroker_v1_GetLeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_Lease__Output>): grpc.ClientUnaryCall;
  
  Invoke(argument: _secretbroker_v1_InvokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _secretbroker_v1_InvokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _secretbroker_v1_InvokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  Invoke(argument: _secretbroker_v1_InvokeRequest, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  invoke(argument: _secretbroker_v1_InvokeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  invoke(argument: _secretbroker_v1_InvokeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  invoke(argument: _secretbroker_v1_InvokeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  invoke(argument: _secretbroker_v1_InvokeRequest, callback: grpc.requestCallback<_secretbroker_v1_InvokeResponse__Output>): grpc.ClientUnaryCall;
  
  RenewLease(argument: _secretbroker_v1_RenewLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _secretbroker_v1_RenewLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _secretbroker_v1_RenewLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _secretbroker_v1_RenewLeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _secretbroker_v1_RenewLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _secretbroker_v1_RenewLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _secretbroker_v1_RenewLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _secretbroker_v1_RenewLeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  
  RequestLease(argument: _secretbroker_v1_LeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  RequestLease(argument: _secretbroker_v1_LeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  RequestLease(argument: _secretbroker_v1_LeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  RequestLease(argument: _secretbroker_v1_LeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  requestLease(argument: _secretbroker_v1_LeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  requestLease(argument: _secretbroker_v1_LeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  requestLease(argument: _secretbroker_v1_LeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  requestLease(argument: _secretbroker_v1_LeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_LeaseResponse__Output>): grpc.ClientUnaryCall;
  
  RevokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  RevokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  RevokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  RevokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  revokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  revokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  revokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  revokeLease(argument: _secretbroker_v1_RevokeLeaseRequest, callback: grpc.requestCallback<_secretbroker_v1_RevokeLeaseResponse__Output>): grpc.ClientUnaryCall;
  
  WatchApproval(argument: _secretbroker_v1_WatchApprovalRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_secretbroker_v1_Approval__Output>;
  WatchApproval(argument: _secretbroker_v1_WatchApprovalRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_secretbroker_v1_Approval__Output>;
  watchApproval(argument: _secretbroker_v1_WatchApprovalRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_secretbroker_v1_Approval__Output>;
  watchApproval(argument: _secretbroker_v1_WatchApprovalRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_secretbroker_v1_Approval__Output>;
  
}

export interface AgentBrokerHandlers extends grpc.UntypedServiceImplementation {
  GetLease: grpc.handleUnaryCall<_secretbroker_v1_GetLeaseRequest__Output, _secretbroker_v1_Lease>;
  
  Invoke: grpc.handleUnaryCall<_secretbroker_v1_InvokeRequest__Output, _secretbroker_v1_InvokeResponse>;
  
  RenewLease: grpc.handleUnaryCall<_secretbroker_v1_RenewLeaseRequest__Output, _secretbroker_v1_LeaseResponse>;
  
  RequestLease: grpc.handleUnaryCall<_secretbroker_v1_LeaseRequest__Output, _secretbroker_v1_LeaseResponse>;
  
  RevokeLease: grpc.handleUnaryCall<_secretbroker_v1_RevokeLeaseRequest__Output, _secretbroker_v1_RevokeLeaseResponse>;
  
  WatchApproval: grpc.handleServerStreamingCall<_secretbroker_v1_WatchApprovalRequest__Output, _secretbroker_v1_Approval>;
  
}

export interface AgentBrokerDefinition extends grpc.ServiceDefinition {
  GetLease: MethodDefinition<_secretbroker_v1_GetLeaseRequest, _secretbroker_v1_Lease, _secretbroker_v1_GetLeaseRequest__Output, _secretbroker_v1_Lease__Output>
  Invoke: MethodDefinition<_secretbroker_v1_InvokeRequest, _secretbroker_v1_InvokeResponse, _secretbroker_v1_InvokeRequest__Output, _secretbroker_v1_InvokeResponse__Output>
  RenewLease: MethodDefinition<_secretbroker_v1_RenewLeaseRequest, _secretbroker_v1_LeaseResponse, _secretbroker_v1_RenewLeaseRequest__Output, _secretbroker_v1_LeaseResponse__Output>
  RequestLease: MethodDefinition<_secretbroker_v1_LeaseRequest, _secretbroker_v1_LeaseResponse, _secretbroker_v1_LeaseRequest__Output, _secretbroker_v1_LeaseResponse__Output>
  RevokeLease: MethodDefinition<_secretbroker_v1_RevokeLeaseRequest, _secretbroker_v1_RevokeLeaseResponse, _secretbroker_v1_RevokeLeaseRequest__Output, _secretbroker_v1_RevokeLeaseResponse__Output>
  WatchApproval: MethodDefinition<_secretbroker_v1_WatchApprovalRequest, _secretbroker_v1_Approval, _secretbroker_v1_WatchApprovalRequest__Output, _secretbroker_v1_Approval__Output>
}
