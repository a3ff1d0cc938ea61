// Original file: proto/secretbroker/v1/broker.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Checkpoint as _secretbroker_v1_Checkpoint, Checkpoint__Output as _secretbroker_v1_Checkpoint__Output } from '../../secretbroker/v1/Checkpoint';
import type { ConsistencyProof as _secretbroker_v1_ConsistencyProof, ConsistencyProof__Output as _secretbroker_v1_ConsistencyProof__Output } from '../../secretbroker/v1/ConsistencyProof';
import type { EvidenceEntry as _secretbroker_v1_EvidenceEntry, EvidenceEntry__Output as _secretbroker_v1_EvidenceEntry__Output } from '../../secretbroker/v1/EvidenceEntry';
import type { GetCheckpointRequest as _secretbroker_v1_GetCheckpointRequest, GetCheckpointRequest__Output as _secretbroker_v1_GetCheckpointRequest__Output } from '../../secretbroker/v1/GetCheckpointRequest';
import type { GetConsistencyProofRequest as _secretbroker_v1_GetConsistencyProofRequest, GetConsistencyProofRequest__Output as _secretbroker_v1_GetConsistencyProofRequest__Output } from '../../secretbroker/v1/GetConsistencyProofRequest';
import type { GetEntryRequest as _secretbroker_v1_GetEntryRequest, GetEntryRequest__Output as _secretbroker_v1_GetEntryRequest__Output } from '../../secretbroker/v1/GetEntryRequest';
import type { GetReceiptRequest as _secretbroker_v1_GetReceiptRequest, GetReceiptRequest__Output as _secretbroker_v1_GetReceiptRequest__Output } from '../../secretbroker/v1/GetReceiptRequest';
import type { Receipt as _secretbroker_v1_Receipt, Receipt__Output as _secretbroker_v1_Receipt__Output } from '../../secretbroker/v1/Receipt';

export interface EvidenceClient extends grpc.Client {
  GetCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  GetCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  GetCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  GetCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  getCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  getCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  getCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  getCheckpoint(argument: _secretbroker_v1_GetCheckpointRequest, callback: grpc.requestCallback<_secretbroker_v1_Checkpoint__Output>): grpc.ClientUnaryCall;
  
  GetConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _secretbroker_v1_GetConsistencyProofRequest, callback: grpc.requestCallback<_secretbroker_v1_ConsistencyProof__Output>): grpc.ClientUnaryCall;
  
  GetEntry(argument: _secretbroker_v1_GetEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  GetEntry(argument: _secretbroker_v1_GetEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  GetEntry(argument: _secretbroker_v1_GetEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  GetEntry(argument: _secretbroker_v1_GetEntryRequest, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _secretbroker_v1_GetEntryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _secretbroker_v1_GetEntryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _secretbroker_v1_GetEntryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  getEntry(argument: _secretbroker_v1_GetEntryRequest, callback: grpc.requestCallback<_secretbroker_v1_EvidenceEntry__Output>): grpc.ClientUnaryCall;
  
  GetReceipt(argument: _secretbroker_v1_GetReceiptRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  GetReceipt(argument: _secretbroker_v1_GetReceiptRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  GetReceipt(argument: _secretbroker_v1_GetReceiptRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  GetReceipt(argument: _secretbroker_v1_GetReceiptRequest, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  getReceipt(argument: _secretbroker_v1_GetReceiptRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  getReceipt(argument: _secretbroker_v1_GetReceiptRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  getReceipt(argument: _secretbroker_v1_GetReceiptRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  getReceipt(argument: _secretbroker_v1_GetReceiptRequest, callback: grpc.requestCallback<_secretbroker_v1_Receipt__Output>): grpc.ClientUnaryCall;
  
}

export interface EvidenceHandlers extends grpc.UntypedServiceImplementation {
  GetCheckpoint: grpc.handleUnaryCall<_secretbroker_v1_GetCheckpointRequest__Output, _secretbroker_v1_Checkpoint>;
  
  GetConsistencyProof: grpc.handleUnaryCall<_secretbroker_v1_GetConsistencyProofRequest__Output, _secretbroker_v1_ConsistencyProof>;
  
  GetEntry: grpc.handleUnaryCall<_secretbroker_v1_GetEntryRequest__Output, _secretbroker_v1_EvidenceEntry>;
  
  GetReceipt: grpc.handleUnaryCall<_secretbroker_v1_GetReceiptRequest__Output, _secretbroker_v1_Receipt>;
  
}

export interface EvidenceDefinition extends grpc.ServiceDefinition {
  GetCheckpoint: MethodDefinition<_secretbroker_v1_GetCheckpointRequest, _secretbroker_v1_Checkpoint, _secretbroker_v1_GetCheckpointRequest__Output, _secretbroker_v1_Checkpoint__Output>
  GetConsistencyProof: MethodDefinition<_secretbroker_v1_GetConsistencyProofRequest, _secretbroker_v1_ConsistencyProof, _secretbroker_v1_GetConsistencyProofRequest__Output, _secretbroker_v1_ConsistencyProof__Output>
  GetEntry: MethodDefinition<_secretbroker_v1_GetEntryRequest, _secretbroker_v1_EvidenceEntry, _secretbroker_v1_GetEntryRequest__Output, _secretbroker_v1_EvidenceEntry__Output>
  GetReceipt: MethodDefinition<_secretbroker_v1_GetReceiptRequest, _secretbroker_v1_Receipt, _secretbroker_v1_GetReceiptRequest__Output, _secretbroker_v1_Receipt__Output>
}
