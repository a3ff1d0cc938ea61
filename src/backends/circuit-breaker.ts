import type { Clock } from '../lib/clock';
import { BrokerError, ContentionError } from '../lib/errors';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** The backend's configured name, for messages. */
  name: string;
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** How long it stays open before one trial call (half-open). */
  openMs: number;
  clock: Clock;
  /** Told of every state change (health, log). */
  onChange?: (state: BreakerState, previous: BreakerState) => void;
}

/**
 * A circuit breaker for one backend, so a dead store fails requests at once
 * instead of holding each for its timeout:
 * - closed: calls pass; `failures` consecutive failures open it;
 * - open: calls fail UNAVAILABLE at once until `openMs` have passed;
 * - half-open: one trial call passes (the others still fail at once); its
 *   success closes the circuit, its failure opens it again.
 * Only failures that say the store is unreachable count (`unavailable`): a
 * store that answers "not found" or "forbidden" is up.
 *
 * A call run with `trial` (an explicit retry an operator or agent asked for)
 * does not wait for the open period: while open it is the trial call, as if
 * half-open. Still one trial at a time, so such calls cannot pile onto a store
 * that is down.
 */
export class CircuitBreaker {
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #trial = false;

  constructor(private readonly opts: BreakerOptions) {}

  get state(): BreakerState {
    if (this.#state === 'open' && this.opts.clock.now() - this.#openedAt >= this.opts.openMs) return 'half_open';
    return this.#state;
  }

  /** Runs `fn` through the breaker; with `trial`, as the trial call even before the open period has passed. */
  async run<T>(fn: () => Promise<T>, opts: { trial?: boolean } = {}): Promise<T> {
    const state = this.state;
    if ((state === 'open' && !opts.trial) || (state !== 'closed' && this.#trial)) {
      throw new BrokerError('unavailable', `backend ${this.opts.name} is unavailable (circuit open)`);
    }
    const trial = state !== 'closed';
    if (trial) {
      this.#trial = true;
      this.#set('half_open');
    }
    try {
      const out = await fn();
      this.succeeded();
      return out;
    } catch (err) {
      if (countsAsFailure(err)) this.failed();
      else if (trial) this.succeeded();
      throw err;
    } finally {
      if (trial) this.#trial = false;
    }
  }

  /** A call (or a health probe) reached the store. */
  succeeded(): void {
    this.#failures = 0;
    this.#set('closed');
  }

  /** A call found the store unreachable. */
  failed(): void {
    this.#failures += 1;
    if (this.#state === 'half_open' || this.#state === 'open' || this.#failures >= this.opts.failures) {
      this.#openedAt = this.opts.clock.now();
      this.#set('open');
    }
  }

  #set(next: BreakerState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.opts.onChange?.(next, previous);
  }
}

/** Whether an error says the store could not be reached (as opposed to an answer from it). */
export function countsAsFailure(err: unknown): boolean {
  if (err instanceof ContentionError) return false;
  return !(err instanceof BrokerError) || err.kind === 'unavailable' || err.kind === 'internal';
}
