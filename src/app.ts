import type { BrokerConfig } from './config/config-types';
import { checkKeyFilePermissions } from './identity/key-files';
import { systemClock, type Clock } from './lib/clock';
import { createLogger, type Logger } from './lib/logger';
import { startGrpc, type GrpcServers, type Handlers } from './transport/grpc/server';

export interface AppOptions {
  config: BrokerConfig;
  clock?: Clock;
  log?: Logger;
  /** Replaces or adds handlers; tests use it to inject faults through the real transport. */
  handlerOverrides?: Handlers;
}

export interface App {
  config: BrokerConfig;
  log: Logger;
  port: number;
  healthPort?: number;
  close(): Promise<void>;
}

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/** Every private key file the daemon reads. */
export function keyFilesOf(config: BrokerConfig): string[] {
  const files = [config.tls.key, config.evidence.signingKey];
  for (const b of Object.values(config.backends)) {
    if (b.kind === 'local') files.push(b.keyFile);
    if (b.kind === 'vault') files.push(b.tokenFile);
  }
  return files;
}

function mergeHandlers(base: Handlers, extra: Handlers | undefined): Handlers {
  if (!extra) return base;
  const out: Handlers = { ...base };
  for (const [svc, methods] of Object.entries(extra) as Array<[keyof Handlers, NonNullable<Handlers[keyof Handlers]>]>) {
    out[svc] = { ...(base[svc] ?? {}), ...methods };
  }
  return out;
}

/**
 * The composition root: the daemon, the CLI and the tests all build the broker
 * here. Nothing else constructs stores, clocks or loggers.
 */
export async function buildApp(opts: AppOptions): Promise<App> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ level: config.logLevel });
  if (config.devMode) {
    log.warn('DEV MODE: key-file permission checks are off. Never run dev mode outside a workstation.');
  } else {
    const problems = checkKeyFilePermissions(keyFilesOf(config));
    if (problems.length) throw new StartupError(`refusing to start: ${problems.join('; ')}`);
  }
  const handlers: Handlers = {};
  let grpcServers: GrpcServers;
  try {
    grpcServers = await startGrpc({ config, handlers: mergeHandlers(handlers, opts.handlerOverrides), log, clock });
  } catch (err) {
    throw new StartupError(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`);
  }
  log.info({ port: grpcServers.port, health_port: grpcServers.healthPort }, 'secret-broker listening (mTLS)');
  return {
    config,
    log,
    port: grpcServers.port,
    ...(grpcServers.healthPort !== undefined ? { healthPort: grpcServers.healthPort } : {}),
    close: async () => {
      await grpcServers.shutdown();
      log.flush?.();
    },
  };
}
