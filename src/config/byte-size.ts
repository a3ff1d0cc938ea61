const UNITS: Readonly<Record<string, number>> = Object.freeze({ B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 });

/** Parses "512B", "64KiB", "256MiB", "1GiB" or a plain decimal count of bytes; undefined when malformed or unsafe. */
export function parseByteSize(text: string): number | undefined {
  const m = /^([1-9][0-9]{0,15})(B|KiB|MiB|GiB)?$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * UNITS[m[2] ?? 'B']!;
  return Number.isSafeInteger(n) ? n : undefined;
}

export const BYTE_SIZE_EXPECTED = 'a byte size such as 65536, "64KiB", "256MiB" or "1GiB"';
