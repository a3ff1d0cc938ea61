import { resourceExhausted } from '../lib/errors';
import { KeyedSlots } from '../lib/keyed-slots';

/**
 * Counts brokered calls (Invoke) running now, per agent (limits.invokes_in_flight)
 * and for the whole daemon (server.invokes_in_flight). A call past either
 * limit is refused with RESOURCE_EXHAUSTED before anything is decided or sent,
 * so one agent holding slow upstream calls cannot take every socket and buffer.
 * Built once by the composition root.
 */
export class InvokesInFlight {
  private readonly byAgent = new KeyedSlots();
  /** The daemon-wide count, under one key. */
  private readonly all = new KeyedSlots();
  constructor(private readonly serverMax: number) {}

  /** Takes a slot for one call; the returned function gives it back (idempotent). */
  acquire(agent: string, agentMax: number): () => void {
    const mine = this.byAgent.tryAcquire(agent, agentMax);
    if (!mine) throw resourceExhausted(`too many brokered calls in flight for this agent (at most ${agentMax}); wait for one to finish`);
    const ours = this.all.tryAcquire('', this.serverMax);
    if (!ours) {
      mine();
      throw resourceExhausted(`the broker has too many brokered calls in flight (at most ${this.serverMax}); try again shortly`);
    }
    return () => {
      mine();
      ours();
    };
  }

  /** Calls in flight: one agent's, or all of them. */
  count(agent?: string): number {
    return agent === undefined ? this.all.count('') : this.byAgent.count(agent);
  }
}
