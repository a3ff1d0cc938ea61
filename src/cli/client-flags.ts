import * as grpc from '@grpc/grpc-js';
import { connect, credentialsFromFiles, type BrokerClients } from '../client/grpc-client';
import { loadConfig } from '../config/load';
import { BrokerError } from '../lib/errors';
import { DeniedError, UsageError, type CliIo } from './cli-io';
import { str, type Values } from './command';

/** Resolves --addr/--ca/--cert/--key from flags, then SECRET_BROKER_* variables, then --config. */
export function clientFromFlags(values: Values, io: CliIo): BrokerClients {
  const cfgFile = str(values, 'config');
  const cfg = cfgFile ? loadConfig(cfgFile) : undefined;
  const addr = str(values, 'addr') ?? io.env['SECRET_BROKER_ADDR'] ?? (cfg ? `${cfg.listen.host === '0.0.0.0' ? '127.0.0.1' : cfg.listen.host}:${cfg.listen.port}` : undefined);
  const ca = str(values, 'ca') ?? io.env['SECRET_BROKER_CA'] ?? cfg?.tls.ca;
  const cert = str(values, 'cert') ?? io.env['SECRET_BROKER_CERT'];
  const key = str(values, 'key') ?? io.env['SECRET_BROKER_KEY'];
  const missing = [!addr && '--addr (or SECRET_BROKER_ADDR)', !ca && '--ca (or SECRET_BROKER_CA)', !cert && '--cert (or SECRET_BROKER_CERT)', !key && '--key (or SECRET_BROKER_KEY)'].filter(Boolean);
  if (missing.length) throw new UsageError(`missing ${missing.join(', ')}`);
  try {
    return connect(credentialsFromFiles(addr!, ca!, cert!, key!));
  } catch (err) {
    throw new UsageError(`cannot read the client credentials: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Turns a gRPC failure into one CLI line: PERMISSION_DENIED exits 3, the rest 1. */
export function rpcError(err: unknown): Error {
  const e = err as grpc.ServiceError;
  if (typeof e?.code !== 'number') return err as Error;
  const name = grpc.status[e.code] ?? String(e.code);
  const expl = e.metadata?.get('secretbroker-explanation')?.[0];
  const detail = expl ? safeJson(String(expl)) : undefined;
  if (e.code === grpc.status.PERMISSION_DENIED) return new DeniedError(`${name}: ${e.details}`, detail);
  if (e.code === grpc.status.UNAVAILABLE && /No connection established|ECONNREFUSED|failed to connect/i.test(e.details)) {
    return new BrokerError('unavailable', `UNAVAILABLE: cannot reach the broker (${e.details.split('.')[0]})`);
  }
  return new BrokerError('internal', `${name}: ${e.details}`);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** Parses repeated --param k=v: JSON scalars stay typed ("5000" → 5000), anything else is a string. */
export function parseParams(pairs: string[], json: string | undefined): Record<string, unknown> {
  let out: Record<string, unknown> = {};
  if (json) {
    try {
      const parsed = JSON.parse(json) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      out = parsed as Record<string, unknown>;
    } catch {
      throw new UsageError('--params-json: expected a JSON object');
    }
  }
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`--param: expected key=value, got ${JSON.stringify(p.slice(0, 40))}`);
    const k = p.slice(0, i);
    const v = p.slice(i + 1);
    let value: unknown = v;
    if (/^-?\d+(\.\d+)?$|^(true|false)$/.test(v)) value = JSON.parse(v);
    out[k] = value;
  }
  return out;
}

export function uint(values: Values, key: string): number {
  const v = str(values, key);
  if (v === undefined) return 0;
  if (!/^\d{1,9}$/.test(v)) throw new UsageError(`--${key}: expected a whole number`);
  return Number(v);
}

/** Runs `fn` with a client built from the flags; an RPC error becomes one clear CLI error; the client is closed. */
export async function withClients<T>(values: Values, io: CliIo, fn: (c: BrokerClients) => Promise<T>): Promise<T> {
  const c = clientFromFlags(values, io);
  try {
    return await fn(c);
  } catch (err) {
    throw rpcError(err);
  } finally {
    c.close();
  }
}
