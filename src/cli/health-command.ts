import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { loadConfig } from '../config/load';
import { BrokerError } from '../lib/errors';
import { EXIT, UsageError, emit } from './cli-io';
import { str, type Command } from './command';

/** The health port when neither --addr nor --config's health_listen says otherwise. */
export const DEFAULT_HEALTH_ADDR = '127.0.0.1:7444';
const ADDR = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;
const DEADLINE_MS = 5_000;

type HealthCtor = new (addr: string, creds: grpc.ChannelCredentials) => grpc.Client;

/** A wildcard listen address is probed on loopback (the prober runs beside the daemon). */
function probeHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** --addr, else --config's health_listen, else the default. */
function healthAddr(addr: string | undefined, configFile: string | undefined): string {
  if (addr !== undefined) {
    const m = ADDR.exec(addr);
    if (!m || Number(m[2]) > 65535) throw new UsageError(`--addr: expected host:port, such as ${DEFAULT_HEALTH_ADDR}, got ${JSON.stringify(addr.slice(0, 80))}`);
    return addr;
  }
  if (configFile === undefined) return DEFAULT_HEALTH_ADDR;
  const listen = loadConfig(configFile).healthListen;
  if (!listen) throw new UsageError(`${configFile} has no health_listen: the daemon serves no health port; give --addr HOST:PORT`);
  return `${probeHost(listen.host)}:${listen.port}`;
}

function check(addr: string, service: string): Promise<string> {
  const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: HealthCtor } } } };
  const client = new pkg.grpc.health.v1.Health(addr, grpc.credentials.createInsecure());
  const deadline = new Date(Date.now() + DEADLINE_MS);
  return new Promise<string>((resolve, reject) => {
    (client as unknown as { Check(r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: { status: string }) => void): void }).Check(
      { service },
      new grpc.Metadata(),
      { deadline },
      (err, res) => (err ? reject(err) : resolve(String(res.status))),
    );
  }).finally(() => client.close());
}

/** One line for a failed check: which port, what went wrong; never a stack. */
function unreachable(addr: string, err: unknown): BrokerError {
  const e = err as grpc.ServiceError;
  if (typeof e?.code !== 'number') return new BrokerError('unavailable', `cannot check the health of ${addr}: ${(err as Error)?.message ?? String(err)}`);
  if (e.code === grpc.status.NOT_FOUND) return new BrokerError('not_found', `${addr} does not know the service name (NOT_FOUND)`);
  const why = String(e.details ?? '').split('\n')[0]!.split('.')[0]!;
  return new BrokerError('unavailable', `${grpc.status[e.code] ?? e.code}: cannot reach the broker's health port at ${addr}${why ? ` (${why})` : ''}`);
}

/**
 * A grpc.health.v1 Check against the plaintext health port, for container
 * health checks and scripts: exit 0 when SERVING, 1 otherwise (not serving,
 * unreachable, timed out), with one line saying which.
 */
export const healthCommand: Command = Object.freeze<Command>({
  path: ['health'],
  summary: `check the daemon's plaintext health port (grpc.health.v1); exit 0 when SERVING, 1 otherwise`,
  usage: 'health [--addr HOST:PORT] [--config FILE] [--service NAME] [--json]',
  options: { addr: { type: 'string' }, config: { type: 'string' }, service: { type: 'string' }, json: { type: 'boolean' } },
  positionals: [0, 0],
  async run(values, _positionals, io) {
    const addr = healthAddr(str(values, 'addr'), str(values, 'config'));
    const service = str(values, 'service') ?? '';
    let status: string;
    try {
      status = await check(addr, service);
    } catch (err) {
      throw unreachable(addr, err);
    }
    const ok = status === 'SERVING';
    const what = service ? `service ${JSON.stringify(service)}` : 'secret-broker';
    emit(io, values.json === true, { ok, status, addr, ...(service ? { service } : {}) }, `${status}: ${what} at ${addr}`);
    return ok ? EXIT.ok : EXIT.failure;
  },
});
