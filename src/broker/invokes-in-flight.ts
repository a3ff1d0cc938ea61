import { resourceExhausted } from '../lib/errors';

/**
 * Counts brokered calls (Invoke) running now, per agent (limits.invokes_in_flight)
 * and for the whole daemon (server.invokes_in_flight). A call past either
 * limit is refused with RESOURCE_EXHAUSTED before anything is decided or sent,
 * so one agent holding slow upstream calls cannot take every socket and buffer.
 * Built once by the composition root.
 */
export class InvokesInFlight {
  private readonly byAgent = new Map<string, number>();
  private total = 0;
  constructor(private readonly serverMax: number) {}

  /** Takes a slot for one call; the returned function gives it back (idempotent). */
  acquire(agent: string, agentMax: number): () => void {
    const mine = this.byAgent.get(agent) ?? 0;
    if (mine >= agentMax) throw resourceExhausted(`too many brokered calls in flight for this agent (at most ${agentMax}); wait for one to finish`);
    if (this.total >= this.serverMax) throw resourceExhausted(`the broker has too many brokered calls in flight (at most ${this.serverMax}); try again shortly`);
    this.byAgent.set(agent, mine + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.byAgent.get(agent) ?? 1) - 1;
      if (left <= 0) this.byAgent.delete(agent);
      else this.byAgent.set(agent, left);
    };
  }

  /** Calls in flight: one agent's, or all of them. */
  count(agent?: string): number {
    return agent === undefined ? this.total : (this.byAgent.get(agent) ?? 0);
  }
}
