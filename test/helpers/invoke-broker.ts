import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { ensureMasterKey, openLocalBackend } from '../../src/backends/local';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import type { Approvals } from '../../src/broker/approval-gate';
import type { Resolver } from '../../src/brokered-http';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { Clock } from '../../src/lib/clock';
import { systemClock } from '../../src/lib/clock';
import { SecretValue } from '../../src/lib/secret-value';
import type { Store } from '../../src/store/store';
import { baseRawConfig, startBroker, type RunningBroker, type TestPki } from './broker-harness';
import { startHttpsUpstream, type HttpsUpstream } from './https-upstream';

export const HELPDESK_TOKEN = 'hd_live_Q7v2Lm9Xc4Rt8Kp1Zs6W';

/**
 * Puts `secrets` (name → value) into the local backend of a test config
 * (`baseRawConfig`), creating its master key first: what an operator does
 * with `secret-broker secrets put` before the daemon starts.
 */
export async function seedLocalSecrets(raw: Record<string, unknown>, secrets: Readonly<Record<string, string>>): Promise<void> {
  const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
  await ensureMasterKey(local.key_file, { sealedFile: local.path });
  const backend = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
  try {
    for (const [name, value] of Object.entries(secrets)) await backend.put(name, SecretValue.fromString(value));
  } finally {
    await backend.close();
  }
}

/** Test DNS for the broker's upstream hosts: a name in `dns` resolves to its addresses, any other is ENOTFOUND. */
export function testResolver(dns: ReadonlyMap<string, readonly string[]>): Resolver {
  return async (host) => {
    const a = dns.get(host);
    if (!a) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return [...a];
  };
}

/** Writes the upstreams' CA certificates as one bundle (for actions' `ca_files`); returns its path. */
export function writeCaBundle(dir: string, upstreams: ReadonlyArray<{ caPem: string }>): string {
  const file = path.join(dir, 'upstream-ca.pem');
  writeFileSync(file, upstreams.map((u) => u.caPem).join('\n'));
  return file;
}

/**
 * A real daemon with one real HTTPS upstream (the helpdesk, bearer token) and
 * its `tickets.update` action (PUT/GET /tickets/{id}, context ticket from
 * path.id), for tests that need brokered calls. `policies` adds .cedar files
 * beside the dev ones; `actions` adds actions on the same upstream.
 */
export async function startInvokeBroker(opts: {
  pki: TestPki;
  dir: string;
  policies?: Record<string, string>;
  actions?: (http: (extra: Record<string, unknown>) => Record<string, unknown>) => Record<string, unknown>;
  store?: Store;
  hooks?: InvokeHooks;
  clock?: Clock;
  reaperIntervalMs?: number;
  approvals?: Approvals;
  /** Changes the raw config (the YAML shape) before the daemon starts. */
  configure?: (raw: Record<string, unknown>) => void;
  /** Last changes to the raw config (e.g. an agent's owner). */
  raw?: (raw: Record<string, unknown>) => void;
}): Promise<{ broker: RunningBroker; upstream: HttpsUpstream; close(): Promise<void> }> {
  const upstream = await startHttpsUpstream({ secret: HELPDESK_TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
  try {
    const caFile = writeCaBundle(opts.dir, [upstream]);
    const raw = baseRawConfig(opts.pki, opts.dir);
    const http = (extra: Record<string, unknown>): Record<string, unknown> => ({
      base_url: `https://helpdesk.test:${upstream.port}`,
      ca_files: [caFile],
      auth: { bearer: 'helpdesk-token' },
      allow_networks: ['127.0.0.0/8'],
      ...extra,
    });
    raw['actions'] = {
      'tickets.update': { http: http({ methods: ['PUT', 'GET'], paths: ['/tickets/{id}'], context: { ticket: 'path.id' } }), resource: 'ticket/{ticket}', max_uses: 20 },
      ...(opts.actions?.(http) ?? {}),
    };
    opts.configure?.(raw);
    opts.raw?.(raw);
    for (const [name, text] of Object.entries(opts.policies ?? {})) writeFileSync(path.join(String(raw['policies']), name), text);
    await seedLocalSecrets(raw, { 'helpdesk-token': HELPDESK_TOKEN });
    const broker = await startBroker({
      pki: opts.pki,
      dir: opts.dir,
      raw,
      resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']]])),
      ...(opts.store ? { store: opts.store } : {}),
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
      ...(opts.reaperIntervalMs !== undefined ? { reaperIntervalMs: opts.reaperIntervalMs } : {}),
      ...(opts.approvals ? { approvals: opts.approvals } : {}),
    });
    return {
      broker,
      upstream,
      close: async () => {
        await broker.close();
        await upstream.close();
      },
    };
  } catch (err) {
    await upstream.close();
    throw err;
  }
}

/**
 * Holds every caller of `wait` until `n` have arrived, then lets them all go
 * at once. If fewer arrive within `timeoutMs`, it lets them go anyway (so a
 * test fails on its assertions instead of hanging); `full` says whether all
 * `n` arrived together.
 */
export class Barrier {
  arrived = 0;
  full = false;
  private open = false;
  private readonly waiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly n: number,
    readonly timeoutMs = 10_000,
  ) {}

  readonly wait = (): Promise<void> => {
    this.arrived++;
    if (this.open) return Promise.resolve();
    if (this.arrived >= this.n) {
      this.full = true;
      this.release();
      return Promise.resolve();
    }
    this.timer ??= setTimeout(() => this.release(), this.timeoutMs);
    return new Promise((resolve) => this.waiters.push(resolve));
  };

  private release(): void {
    this.open = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * Fires `n` concurrent Invokes (GET `path`) on one lease with a barrier in
 * the broker's beforeUse hook, so that every one of them has passed the
 * status, binding and policy checks before any spends a use: they really
 * race for the use in the store. Returns how many succeeded, the error codes
 * of the rest, and the barrier (whose `full` says they all met there).
 */
export async function raceForUses(opts: { agent: grpc.Client; hooks: InvokeHooks; leaseId: string; path: string; n?: number }): Promise<{ barrier: Barrier; ok: number; codes: grpc.status[] }> {
  const n = opts.n ?? 50;
  const barrier = new Barrier(n);
  opts.hooks.beforeUse = barrier.wait;
  try {
    const results = await Promise.allSettled(
      Array.from({ length: n }, () => call<unknown, InvokeResponse__Output>(opts.agent, 'Invoke', { leaseId: opts.leaseId, method: 'GET', path: opts.path })),
    );
    return {
      barrier,
      ok: results.filter((r) => r.status === 'fulfilled').length,
      codes: results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as grpc.ServiceError).code] : [])),
    };
  } finally {
    delete opts.hooks.beforeUse;
  }
}
