import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import type { RequestIds } from '../../lib/ids';
import { unimplemented } from '../../lib/errors';
import { ACCESS } from './access';
import { Gate, withRecordedSizes, type StreamHandler, type UnaryHandler } from './adapter';
import { Authenticator } from './authn';
import { RateLimiter, StreamCounter } from './limits';
import { loadProto } from './proto';

export type ServiceName = 'AgentBroker' | 'Operator' | 'Evidence';

/** Handlers by service and method. A method left out answers UNIMPLEMENTED (after authn and authz). */
export type Handlers = Partial<Record<ServiceName, Record<string, UnaryHandler<never, unknown> | { stream: StreamHandler<never, unknown> }>>>;

export interface GrpcServers {
  server: grpc.Server;
  health: HealthImplementation;
  healthServer?: grpc.Server;
  port: number;
  healthPort?: number;
  shutdown(): Promise<void>;
}

const ISSUE_FOR: Record<string, string> = Object.freeze<Record<string, string>>({
  AgentBroker: 'issue 3/4',
  Operator: 'a later issue',
  Evidence: 'issue 5',
});

async function bind(server: grpc.Server, addr: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(addr, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

const addr = (h: { host: string; port: number }): string => (h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`);

export function maxMessageBytes(config: Pick<BrokerConfig, 'limits' | 'agents'>): number {
  const all = [config.limits.maxBodyBytes, ...Object.values(config.agents).map((a) => a.limits.maxBodyBytes)];
  // Headroom above the largest per-agent limit so the gate, not the transport, reports the exact limit.
  return Math.max(...all) + 64 * 1024;
}

/** Builds and binds the mTLS gRPC server (+ the plaintext health-only server when configured). */
export async function startGrpc(opts: {
  config: BrokerConfig;
  handlers: Handlers;
  log: Logger;
  clock: Clock;
  /** Request ids (the composition root's IdSource). */
  ids: RequestIds;
}): Promise<GrpcServers> {
  const { config, handlers, log, clock } = opts;
  const { packageDefinition, api } = loadProto();
  const gate = new Gate({
    authenticator: new Authenticator(config),
    rateLimiter: new RateLimiter(clock),
    streams: new StreamCounter(),
    limits: config.limits,
    log,
    ids: opts.ids,
  });
  const maxBytes = maxMessageBytes(config);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  const services = api.secretbroker.v1;
  for (const name of ['AgentBroker', 'Operator', 'Evidence'] as const) {
    const def = services[name].service as unknown as grpc.ServiceDefinition;
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [method, m] of Object.entries(def)) {
      const access = ACCESS[name]?.[method];
      if (!access) throw new Error(`no access rule for ${name}.${method}`);
      const h = handlers[name]?.[method];
      if (m.responseStream) {
        const fn: StreamHandler<unknown, unknown> =
          h && 'stream' in h ? (h.stream as StreamHandler<unknown, unknown>) : async () => { throw unimplemented(`${name}.${method}`, ISSUE_FOR[name]!); };
        impl[method] = gate.serverStream(`${name}.${method}`, access, fn);
      } else {
        const fn: UnaryHandler<unknown, unknown> =
          h && typeof h === 'function' ? (h as UnaryHandler<unknown, unknown>) : async () => { throw unimplemented(`${name}.${method}`, ISSUE_FOR[name]!); };
        impl[method] = gate.unary(`${name}.${method}`, access, fn);
      }
    }
    server.addService(withRecordedSizes(def), impl);
  }
  const statusMap = {
    '': 'SERVING' as const,
    'secretbroker.v1.AgentBroker': 'SERVING' as const,
    'secretbroker.v1.Operator': 'SERVING' as const,
    'secretbroker.v1.Evidence': 'SERVING' as const,
  };
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  // Reflection describes our API and the health service, so grpcurl and other stock clients work.
  const healthDefinition = protoLoader.loadSync(healthProtoPath, { keepCase: true });
  new ReflectionService({ ...packageDefinition, ...healthDefinition }).addToServer(server);

  const creds = grpc.ServerCredentials.createSsl(
    readFileSync(config.tls.ca),
    [{ cert_chain: readFileSync(config.tls.cert), private_key: readFileSync(config.tls.key) }],
    true,
  );
  const port = await bind(server, addr(config.listen), creds);

  let healthServer: grpc.Server | undefined;
  let healthPort: number | undefined;
  if (config.healthListen) {
    // Plaintext, health service only: load balancers and kubelets probe here without client certs.
    healthServer = new grpc.Server({ 'grpc.max_receive_message_length': 4096 });
    health.addToServer(healthServer);
    healthPort = await bind(healthServer, addr(config.healthListen), grpc.ServerCredentials.createInsecure());
  }

  const shutdown = async (): Promise<void> => {
    health.setStatus('', 'NOT_SERVING');
    const stop = (s: grpc.Server) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.forceShutdown();
          resolve();
        }, 5000);
        s.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    await Promise.all([stop(server), ...(healthServer ? [stop(healthServer)] : [])]);
  };
  return { server, health, ...(healthServer ? { healthServer } : {}), port, ...(healthPort !== undefined ? { healthPort } : {}), shutdown };
}
