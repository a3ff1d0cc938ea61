import type { Limits } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import { BrokerError, resourceExhausted } from '../../lib/errors';

/** Per-key token buckets (one per agent), so one agent's flood never drains another's budget. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly clock: Clock) {}

  take(key: string, limits: Pick<Limits, 'requestsPerSecond' | 'burst'>): void {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: limits.burst, at: now };
    b.tokens = Math.min(limits.burst, b.tokens + ((now - b.at) / 1000) * limits.requestsPerSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      throw resourceExhausted(`rate limit exceeded (${limits.requestsPerSecond}/s, burst ${limits.burst})`);
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
  }
}

/** Counts concurrent server streams per key. */
export class StreamCounter {
  private readonly open = new Map<string, number>();
  acquire(key: string, max: number): () => void {
    const n = this.open.get(key) ?? 0;
    if (n >= max) throw resourceExhausted(`too many open streams (at most ${max})`);
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }
}

/** Rejects values nested deeper than `max` (Struct params can nest arbitrarily). Iterative: no stack risk. */
export function checkDepth(value: unknown, max: number): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) continue;
    if (d > max) throw new BrokerError('resource_exhausted', `message nesting exceeds ${max} levels`);
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
}
