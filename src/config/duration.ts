import { describe, type Section } from './problems';

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "30s", "5m", "24h", "30d" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,8})(ms|s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * UNITS[m[2]!]!;
}

export const DURATION_EXPECTED = 'a duration such as "30s", "5m", "24h" or "30d"';

/** "0s", "0ms", "0m"…: well formed, but no field takes a zero duration through `duration` (cache_ttl reads it itself). */
export function isZeroDuration(raw: unknown): boolean {
  return typeof raw === 'string' && /^0{1,9}(ms|s|m|h|d)$/.test(raw);
}

/** The duration at `key` of `s` in ms; a problem naming the key when it is missing (and there is no fallback) or not a duration. */
export function duration(s: Section, key: string, fallback?: number): number | undefined {
  const raw = s.value(key);
  if (raw === undefined || raw === null) {
    if (fallback === undefined) s.problems.add(s.at(key), `is required (${DURATION_EXPECTED})`);
    return fallback;
  }
  const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
  if (ms === undefined && isZeroDuration(raw)) s.problems.add(s.at(key), `must be greater than zero (${DURATION_EXPECTED}), got ${describe(raw)}`);
  else if (ms === undefined) s.problems.add(s.at(key), `expected ${DURATION_EXPECTED}, got ${describe(raw)}`);
  return ms ?? fallback;
}
