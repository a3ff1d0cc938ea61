import type { TrustConfig } from '../config/config-types';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';
import type { BrokerSignalKind } from './trust-signals';
import type { TrustService } from './trust-service';

export interface BrokerSignalsDeps {
  trust: Pick<TrustService, 'signal'>;
  config: { trust: Pick<TrustConfig, 'denialBurst' | 'signals'> };
  clock: Clock;
  log: Logger;
}

/**
 * Signals the broker raises itself, by `broker`, through the TrustService
 * like any other (a `trust.changed` entry; a drop re-decides the agent's
 * leases):
 * - `broker.denial_burst`: `count` denials of one agent within `within`
 *   (then the count starts again);
 * - `broker.outside_template`: a brokered call the action's template or the
 *   lease's binding refused;
 * - `broker.secret_echo`: an upstream answered with the injected secret;
 * - `broker.credential_misuse`: a lease's credential was used against the
 *   broker's own work upstream (src/broker/credential-misuse.ts).
 * A kind configured with `weight: 0` is off. Raised in the background: the request that caused one is answered as it
 * would be anyway, and a failure to record the signal is logged, never
 * turned into the caller's error.
 */
export class BrokerSignals {
  /** Recent denial times per agent (at most `count` each). */
  private readonly denials = new Map<string, number[]>();
  /** Signals being recorded (close waits for them). */
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly deps: BrokerSignalsDeps) {}

  /** One denial of `agent` (a decision, folded or not). */
  denied(agent: string): void {
    if (!this.on('broker.denial_burst')) return;
    const { count, withinMs } = this.deps.config.trust.denialBurst;
    const now = this.deps.clock.now();
    const recent = (this.denials.get(agent) ?? []).filter((t) => now - t < withinMs);
    recent.push(now);
    if (recent.length >= count) {
      this.denials.delete(agent);
      this.raise(agent, 'broker.denial_burst', `${recent.length} denials within ${Math.round(withinMs / 1000)} s`);
    } else this.denials.set(agent, recent);
  }

  /** A kind configured with `weight: 0` is off (left out of the compiled kinds). */
  private on(kind: BrokerSignalKind): boolean {
    return Object.prototype.hasOwnProperty.call(this.deps.config.trust.signals, kind);
  }

  raise(agent: string, kind: BrokerSignalKind, detail: string): void {
    if (!this.on(kind)) return;
    // Details may quote what an agent sent: one line, no control characters, bounded.
    // eslint-disable-next-line no-control-regex
    const line = detail.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 512);
    const p = this.deps.trust
      .signal(agent, { kind, detail: line }, 'broker', this.deps.log, { fromBroker: true })
      .catch((err: unknown) => this.deps.log.error({ err, agent, kind }, 'could not record a broker-raised trust signal'))
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Resolves once every signal raised so far is recorded (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
