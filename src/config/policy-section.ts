import { describe, type Section } from './problems';
import type { PolicyConfig } from './config-types';

/** The decision cache's default bound: 16 MiB. */
export const DEFAULT_POLICY_CACHE_BYTES = 16 * 1024 * 1024;
/** Above this the bound is surely a typo (and the cache would hold more than the whole daemon needs). */
const MAX_POLICY_CACHE_BYTES = 4 * 1024 * 1024 * 1024;

const SIZE_UNITS: Readonly<Record<string, number>> = Object.freeze({ B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 });
const CACHE_BYTES_EXPECTED = 'a byte count: an integer, or a size such as "64KiB", "16MiB" or "1GiB"';

/**
 * A byte count: an integer, or a string of digits and a binary unit (B, KiB,
 * MiB, GiB). undefined when malformed. (Kept to this section; if src/config
 * gains a shared byte-size parser, use that.)
 */
export function parseCacheBytes(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(0|[1-9][0-9]{0,12})\s?(B|KiB|MiB|GiB)?$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]) * SIZE_UNITS[m[2] ?? 'B']!;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The `policy:` section (how decisions are made, beside `policies:`, where they are written). */
export function policySection(s: Section | undefined): PolicyConfig {
  if (!s) return { cacheBytes: DEFAULT_POLICY_CACHE_BYTES };
  const raw = s.value('cache_bytes');
  let cacheBytes = DEFAULT_POLICY_CACHE_BYTES;
  if (raw !== undefined && raw !== null) {
    const n = parseCacheBytes(raw);
    if (n === undefined || n > MAX_POLICY_CACHE_BYTES) s.problems.add(s.at('cache_bytes'), `expected ${CACHE_BYTES_EXPECTED} up to 4GiB (0 turns the cache off), got ${describe(raw)}`);
    else cacheBytes = n;
  }
  s.done();
  return { cacheBytes };
}
