/** Bytes that brokered calls may hold buffered, shared across calls (sendCall's responseBudget). */
export interface ResponseBudget {
  /** Reserves n bytes; false (and nothing reserved) when that would pass the budget. */
  tryReserve(n: number): boolean;
  release(n: number): void;
}

/**
 * A daemon-wide budget of upstream response bytes held in memory by brokered
 * calls in flight (config server.buffered_response_bytes): a call reserves
 * each chunk as it arrives and releases all of it when it ends, so many slow
 * upstreams cannot together hold more than the budget.
 */
export class ByteBudget implements ResponseBudget {
  private held = 0;
  constructor(readonly capacity: number) {}

  tryReserve(n: number): boolean {
    if (this.held + n > this.capacity) return false;
    this.held += n;
    return true;
  }

  release(n: number): void {
    this.held = Math.max(0, this.held - n);
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.held;
  }
}
