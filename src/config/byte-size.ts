import { describe, type Section } from './problems';

const UNITS: Readonly<Record<string, number>> = Object.freeze({ B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 });

/**
 * A byte count as config writes it: a non-negative integer, or a string of
 * digits with an optional binary unit ("512B", "64KiB", "256MiB", "1GiB"; one
 * space allowed before the unit). undefined when malformed or unsafe.
 */
export function parseByteSize(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(0|[1-9][0-9]{0,15}) ?(B|KiB|MiB|GiB)?$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]) * UNITS[m[2] ?? 'B']!;
  return Number.isSafeInteger(n) ? n : undefined;
}

export const BYTE_SIZE_EXPECTED = 'a byte count or a byte size such as 65536, "64KiB", "16MiB", "256MiB" or "1GiB"';

/**
 * Reads the byte-size field `key` of a section, between min and max bytes;
 * absent or null gives the fallback. A problem names the field and what was
 * expected (`note` is added to it, e.g. what 0 means).
 */
export function byteSizeField(s: Section, key: string, opts: { min: number; max: number; fallback: number; note?: string }): number {
  const raw = s.value(key);
  if (raw === undefined || raw === null) return opts.fallback;
  const n = parseByteSize(raw);
  const note = opts.note ? ` (${opts.note})` : '';
  if (n === undefined) {
    s.problems.add(s.at(key), `expected ${BYTE_SIZE_EXPECTED}${note}, got ${describe(raw)}`);
    return opts.fallback;
  }
  if (n < opts.min || n > opts.max) {
    s.problems.add(s.at(key), `must be between ${opts.min} and ${opts.max} bytes, ${BYTE_SIZE_EXPECTED}${note}; got ${n}`);
    return opts.fallback;
  }
  return n;
}
