import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';

type Ctor = new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client;

/** The stock grpc.health.v1 client, as any prober would use it. */
export function healthClient(addr: string, creds: grpc.ChannelCredentials): grpc.Client {
  const def = protoLoader.loadSync(healthProto, { keepCase: true, enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: Ctor } } } };
  return new pkg.grpc.health.v1.Health(addr, creds);
}

export function healthCheck(client: grpc.Client, service = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    (client as unknown as { Check: (r: unknown, cb: (e: grpc.ServiceError | null, r: { status: string }) => void) => void }).Check(
      { service },
      (err, res) => (err ? reject(err) : resolve(String(res.status))),
    );
  });
}

/** Lists services through server reflection (grpc.reflection.v1), as grpcurl does. */
export function reflectionListServices(addr: string, creds: grpc.ChannelCredentials): Promise<string[]> {
  const file = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
  const def = protoLoader.loadSync(file, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: Ctor } } } };
  const client = new pkg.grpc.reflection.v1.ServerReflection(addr, creds);
  return new Promise((resolve, reject) => {
    const stream = (client as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<unknown, { list_services_response?: { service: Array<{ name: string }> } }> }).ServerReflectionInfo();
    stream.on('data', (msg) => {
      resolve((msg.list_services_response?.service ?? []).map((s: { name: string }) => s.name));
      stream.end();
      client.close();
    });
    stream.on('error', reject);
    stream.write({ list_services: '*' });
  });
}
