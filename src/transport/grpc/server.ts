import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { BrokerConfig, HostPort } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import type { RequestIds } from '../../lib/ids';
import { unimplemented } from '../../lib/errors';
import { ACCESS } from './access';
import { Gate, withRecordedSizes, type StreamHandler, type UnaryHandler } from './adapter';
import { Authenticator } from './authn';
import { toStatus } from './error-status';
import { HealthService } from './health-service';
import { RateLimiter, StreamCounter } from './limits';
import { loadProto, PROTO_FILE, PROTO_OPTIONS } from './proto';
import { addReflection } from './reflection';
import { closeAfterGrace, tlsAdmission } from '../tls-admission';

export type ServiceName = 'AgentBroker' | 'Operator' | 'Evidence';

/** Handlers by service and method. A method left out answers UNIMPLEMENTED (after authn and authz). */
export type Handlers = Partial<Record<ServiceName, Record<string, UnaryHandler<never, unknown> | { stream: StreamHandler<never, unknown> }>>>;

export interface GrpcServers {
  server: grpc.Server;
  health: HealthService;
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

interface Listener {
  port: number;
  /** Stops accepting connections (open ones are ended by the gRPC server's shutdown). */
  close(): void;
}

/** How long a connection may hold one of the max_connections slots without doing anything. */
export interface ConnectionTimeouts {
  /** mTLS port: the TLS handshake must finish within this (Node's default, 120 s, let silent connections hold a slot for two minutes each). */
  readonly tlsHandshakeMs: number;
  /** mTLS port: a connection with no call open for this long is closed (GOAWAY; clients reconnect). */
  readonly idleMs: number;
  /** Health port: the same, shorter: probes reconnect, and a connection that never sends a request does not keep its slot. */
  readonly healthIdleMs: number;
  /** Both ports: how long a peer has to close a connection the server has ended before the socket is destroyed. */
  readonly closeGraceMs: number;
}

export const CONNECTION_TIMEOUTS: ConnectionTimeouts = Object.freeze({
  tlsHandshakeMs: 10_000,
  idleMs: 5 * 60_000,
  healthIdleMs: 30_000,
  closeGraceMs: 5_000,
});

/**
 * Listens on `at` and hands each accepted socket to the gRPC server, at most
 * `maxConnections` at once (server.max_connections). grpc-js has no
 * connection cap of its own, so the socket is taken here and injected.
 * - Plaintext (the health port): at the limit a new connection evicts the
 *   oldest open one (anyone may connect there, and an open Watch stream is
 *   never idle: dropping the newcomer instead let max_connections Watch
 *   streams lock every probe out).
 * - mTLS (`tlsOptions`): tlsAdmission (shared with the metrics port) admits
 *   connections so that neither silent sockets still in their handshake, nor
 *   a peer churning new ones from one address, nor one agent's pile of
 *   connections can lock the other agents out. Verified sockets go to the
 *   gRPC server as they are; it reads the peer certificate from them.
 */
async function listen(server: grpc.Server, at: HostPort, maxConnections: number, timeouts: ConnectionTimeouts, tlsOptions?: tls.TlsOptions): Promise<Listener> {
  let tcp: net.Server;
  let dropHandshakes = (): void => undefined;
  if (tlsOptions) {
    // The sockets are TLS already, so the gRPC server sees them as plain connections; it takes the
    // peer certificate from the TLSSocket (grpc-js getAuthContext), as with its own TLS.
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const l = tlsAdmission({
      maxConnections,
      tlsHandshakeMs: timeouts.tlsHandshakeMs,
      closeGraceMs: timeouts.closeGraceMs,
      tlsOptions: { ...tlsOptions, ALPNProtocols: ['h2'] },
      onVerified: (secure) => injector.injectConnection(secure),
    });
    tcp = l.tcp;
    dropHandshakes = l.dropHandshakes;
  } else {
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    /** Open connections, oldest first. */
    const open = new Set<net.Socket>();
    tcp = net.createServer((socket) => {
      // At the limit the oldest connection makes room: probes are short, so only a peer holding
      // long-lived streams (Watch, reflection) loses one, and it cannot lock the probes out.
      if (open.size >= maxConnections) {
        // Out of the count now, not at its 'close': a burst accepted in one turn must not all evict the same one.
        const oldest = open.values().next().value!;
        open.delete(oldest);
        oldest.destroy();
      }
      open.add(socket);
      socket.on('error', () => undefined);
      socket.once('close', () => open.delete(socket));
      closeAfterGrace(socket, timeouts.closeGraceMs);
      injector.injectConnection(socket);
    });
  }
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ host: at.host, port: at.port }, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  return {
    port: (tcp.address() as net.AddressInfo).port,
    close: () => {
      tcp.close();
      dropHandshakes();
    },
  };
}

/** The names Health answers for: the daemon, its services, and each configured backend. */
export function healthNames(config: Pick<BrokerConfig, 'backends'>): string[] {
  return ['', 'secretbroker.v1.AgentBroker', 'secretbroker.v1.Operator', 'secretbroker.v1.Evidence', ...Object.keys(config.backends).map((b) => `secretbroker.backend.${b}`)];
}

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
  /** Default CONNECTION_TIMEOUTS (tests shorten them). */
  connectionTimeouts?: Partial<ConnectionTimeouts>;
}): Promise<GrpcServers> {
  const { config, handlers, log, clock } = opts;
  const timeouts: ConnectionTimeouts = { ...CONNECTION_TIMEOUTS, ...opts.connectionTimeouts };
  const { api } = loadProto();
  // One authenticator for the RPCs and for reflection on this port.
  const authenticator = new Authenticator(config);
  const gate = new Gate({
    authenticator,
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
    'grpc.max_concurrent_streams': config.server.maxConcurrentStreams,
    'grpc.max_connection_idle_ms': timeouts.idleMs,
    // Nothing here serves channelz; its per-call and per-socket bookkeeping is pure cost.
    'grpc.enable_channelz': 0,
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
  const health = new HealthService(healthNames(config));
  health.addToServer(server);
  // Reflection describes our API and the health service (complete descriptors, imports included),
  // so grpcurl and other stock clients work; on this port only to configured agents and operators.
  const healthDefinition = protoLoader.loadSync(healthProtoPath, { keepCase: true });
  // Reflection describes the .proto as written (snake_case field names), so it loads its own copy.
  const described = protoLoader.loadSync(PROTO_FILE, { ...PROTO_OPTIONS, keepCase: true });
  addReflection(server, { ...described, ...healthDefinition }, (call) => {
    try {
      authenticator.authenticate(call);
      return undefined;
    } catch (err) {
      return toStatus(err, opts.ids.newRequestId(), log.child({ method: 'ServerReflection' }));
    }
  });

  const tlsOptions: tls.TlsOptions = { ca: readFileSync(config.tls.ca), cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) };
  const listeners: Listener[] = [];
  const main = await listen(server, config.listen, config.server.maxConnections, timeouts, tlsOptions);
  listeners.push(main);
  const port = main.port;

  let healthServer: grpc.Server | undefined;
  let healthPort: number | undefined;
  if (config.healthListen) {
    // Plaintext, health service only (and reflection of it alone): load balancers and kubelets probe here without client certs.
    healthServer = new grpc.Server({
      'grpc.max_receive_message_length': 4096,
      'grpc.max_concurrent_streams': config.server.maxConcurrentStreams,
      'grpc.max_connection_idle_ms': timeouts.healthIdleMs,
    });
    health.addToServer(healthServer);
    addReflection(healthServer, healthDefinition);
    try {
      const h = await listen(healthServer, config.healthListen, config.server.maxConnections, timeouts);
      listeners.push(h);
      healthPort = h.port;
    } catch (err) {
      main.close();
      server.forceShutdown();
      throw err;
    }
  }

  const shutdown = async (): Promise<void> => {
    for (const l of listeners) l.close();
    // Watchers see NOT_SERVING, then their streams end so the graceful stop is not held up.
    health.setAll('NOT_SERVING');
    health.endWatchers();
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

