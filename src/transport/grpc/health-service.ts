import * as grpc from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

interface HealthRequest {
  service?: string;
}

interface Watcher {
  readonly name: string;
  readonly call: grpc.ServerWritableStream<HealthRequest, { status: string }>;
}

/**
 * grpc.health.v1.Health over a fixed set of names, fixed at construction:
 * "" (the whole daemon), the broker's services, and one per backend. It keeps
 * no state per requested name (grpc-health-check's Watch kept a map entry for
 * every name ever asked, unauthenticated, on the plaintext port):
 * - Check answers NOT_FOUND for an unknown name;
 * - Watch sends SERVICE_UNKNOWN for an unknown name and holds only the open
 *   call itself (bounded by server.max_concurrent_streams and max_connections);
 * - setAll('NOT_SERVING') at shutdown reaches every watcher, then ends them.
 */
export class HealthService {
  private readonly statuses: Map<string, ServingStatus>;
  private readonly watchers = new Set<Watcher>();

  constructor(names: readonly string[]) {
    this.statuses = new Map(names.map((n) => [n, 'SERVING' as ServingStatus]));
  }

  /** The known names (fixed). */
  get names(): readonly string[] {
    return [...this.statuses.keys()];
  }

  /** Open Watch calls (each one's only trace). */
  get watching(): number {
    return this.watchers.size;
  }

  status(name: string): ServingStatus | undefined {
    return this.statuses.get(name);
  }

  /** Sets one known name (a backend's breaker) and tells its watchers; an unknown name is ignored. */
  set(name: string, status: ServingStatus): void {
    if (!this.statuses.has(name) || this.statuses.get(name) === status) return;
    this.statuses.set(name, status);
    for (const w of this.watchers) if (w.name === name) w.call.write({ status });
  }

  /** Sets every known name (a daemon-wide change, such as shutdown) and tells the watchers. */
  setAll(status: ServingStatus): void {
    for (const name of this.statuses.keys()) this.statuses.set(name, status);
    for (const w of this.watchers) {
      const s = this.statuses.get(w.name);
      if (s) w.call.write({ status: s });
    }
  }

  /** Ends every open Watch (after setAll), so a graceful shutdown is not held up by probes. */
  endWatchers(): void {
    for (const w of this.watchers) w.call.end();
    this.watchers.clear();
  }

  addToServer(server: Pick<grpc.Server, 'addService'>): void {
    server.addService(healthServiceDefinition, {
      check: (call: grpc.ServerUnaryCall<HealthRequest, unknown>, callback: grpc.sendUnaryData<{ status: string }>) => {
        const name = String(call.request?.service ?? '');
        const status = this.statuses.get(name);
        if (status) callback(null, { status });
        else callback({ code: grpc.status.NOT_FOUND, details: 'unknown service name' });
      },
      watch: (call: grpc.ServerWritableStream<HealthRequest, { status: string }>) => {
        const name = String(call.request?.service ?? '');
        const status = this.statuses.get(name);
        call.write({ status: status ?? 'SERVICE_UNKNOWN' });
        if (call.cancelled) return;
        const w: Watcher = { name, call };
        this.watchers.add(w);
        const drop = (): void => {
          this.watchers.delete(w);
        };
        call.once('cancelled', drop);
        call.once('close', drop);
        call.once('error', drop);
      },
      list: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{ statuses: Record<string, { status: string }> }>) => {
        const statuses: Record<string, { status: string }> = {};
        for (const [name, status] of this.statuses) statuses[name] = { status };
        callback(null, { statuses });
      },
    });
  }
}
