import type { Limits } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import { BrokerError, resourceExhausted } from '../../lib/errors';
import { KeyedSlots } from '../../lib/keyed-slots';

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
  private readonly slots = new KeyedSlots();
  acquire(key: string, max: number): () => void {
    const release = this.slots.tryAcquire(key, max);
    if (!release) throw resourceExhausted(`too many open streams (at most ${max})`);
    return release;
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
