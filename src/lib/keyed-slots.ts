/**
 * Concurrent slots counted per key (an agent, a caller): take one with
 * tryAcquire, give it back with the function it returns (idempotent). Used
 * for open streams per caller and brokered calls in flight; the caller says
 * what a refusal means.
 */
export class KeyedSlots {
  private readonly held = new Map<string, number>();

  /** A slot under `key` when fewer than `max` are held, with the function that gives it back; undefined when full. */
  tryAcquire(key: string, max: number): (() => void) | undefined {
    const n = this.held.get(key) ?? 0;
    if (n >= max) return undefined;
    this.held.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left <= 0) this.held.delete(key);
      else this.held.set(key, left);
    };
  }

  /** Slots held under `key`. */
  count(key: string): number {
    return this.held.get(key) ?? 0;
  }
}
