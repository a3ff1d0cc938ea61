import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../gen/broker';

/** Options shared by the server, the CLI client and tests; the generated types assume them. */
export const PROTO_OPTIONS: protoLoader.Options = Object.freeze<protoLoader.Options>({
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.resolve(__dirname, '../../../../proto'), path.resolve(__dirname, '../../../proto')],
});

export const PROTO_FILE = 'secretbroker/v1/broker.proto';

export interface LoadedProto {
  packageDefinition: protoLoader.PackageDefinition;
  api: ProtoGrpcType;
}

/** Loads broker.proto. Works from src/ (tsx) and from dist/src/ (built). */
export function loadProto(): LoadedProto {
  const packageDefinition = protoLoader.loadSync(PROTO_FILE, PROTO_OPTIONS);
  const api = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;
  return { packageDefinition, api };
}
