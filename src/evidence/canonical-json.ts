import canonicalizeJson from 'canonicalize';
import { EvidenceError } from './evidence-error';
import { decodeUtf8Strict, hasLoneSurrogate } from './strict-encoding';

/** The largest evidence entry, in bytes of canonical JSON (DESIGN: Evidence). */
export const MAX_ENTRY_BYTES = 64 * 1024;

// Deep enough for any entry the broker builds; stops runaway or cyclic values early.
const MAX_DEPTH = 64;

export interface CanonicalOptions {
  /** Defaults to MAX_ENTRY_BYTES. */
  maxBytes?: number;
}

/**
 * UTF-8 bytes of the RFC 8785 (JCS) form of `value`.
 *
 * Only plain JSON data is accepted: null, booleans, finite numbers, strings
 * without unpaired surrogates, arrays and plain objects. Anything JSON.stringify
 * would drop or coerce silently (undefined, functions, symbols, NaN, Infinity,
 * Dates and other toJSON objects, bigint) is an error instead, so what is
 * logged is exactly what the caller wrote.
 */
export function canonicalize(value: unknown, opts: CanonicalOptions = {}): Buffer {
  const maxBytes = opts.maxBytes ?? MAX_ENTRY_BYTES;
  assertJsonData(value, [], 0, []);
  const text = canonicalizeJson(value);
  if (text === undefined) throw invalid('not-json', '$', 'value has no JSON form');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > maxBytes) {
    throw new EvidenceError(
      'EVIDENCE_ENTRY_INVALID',
      'too-large',
      `canonical JSON is ${bytes.length} bytes, over the ${maxBytes}-byte limit`,
    );
  }
  return bytes;
}

/**
 * Parses bytes that must already be canonical JSON (valid UTF-8, and equal
 * byte for byte to their own canonical form). Used by verifiers, so that an
 * entry has exactly one accepted spelling.
 */
export function parseCanonical(bytes: Uint8Array, opts: CanonicalOptions = {}): unknown {
  const maxBytes = opts.maxBytes ?? MAX_ENTRY_BYTES;
  if (bytes.length > maxBytes) {
    throw new EvidenceError('EVIDENCE_ENTRY_INVALID', 'too-large', `entry is ${bytes.length} bytes, over the ${maxBytes}-byte limit`);
  }
  const text = decodeUtf8Strict(bytes);
  if (text === undefined) throw invalid('not-utf8', '$', 'entry is not valid UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('not-json', '$', 'entry is not JSON');
  }
  let again: Buffer;
  try {
    again = canonicalize(value, { maxBytes: Number.MAX_SAFE_INTEGER });
  } catch (err) {
    throw invalid('not-canonical', '$', 'entry is not canonical JSON', err);
  }
  // Duplicate keys, whitespace, key order, number and string spellings all show up here.
  if (!again.equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) {
    throw invalid('not-canonical', '$', 'entry is not in RFC 8785 canonical form');
  }
  return value;
}

/** The JSON path of the value being checked, built only when an error names it (keys vary per entry; strings per key are not free). */
function pathText(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : `${acc}.${k}`), '$');
}

// `ancestors` is the stack of objects above `value`. It is only searched once
// the depth limit is hit: a cycle always gets there, and most entries never do.
function assertJsonData(value: unknown, path: (string | number)[], depth: number, ancestors: object[]): void {
  if (depth > MAX_DEPTH) {
    if (typeof value === 'object' && value !== null && ancestors.includes(value)) throw invalid('circular', pathText(path), 'value is circular');
    throw invalid('too-deep', pathText(path), `nested deeper than ${MAX_DEPTH}`);
  }
  switch (typeof value) {
    case 'boolean':
      return;
    case 'string':
      if (hasLoneSurrogate(value)) throw invalid('lone-surrogate', pathText(path), 'string has an unpaired surrogate');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw invalid('non-finite', pathText(path), 'number is not finite');
      return;
    case 'object':
      break;
    default:
      throw invalid('not-json', pathText(path), `${typeof value} is not JSON data`);
  }
  if (value === null) return;
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      if (!(i in value)) throw invalid('not-json', pathText(path), 'array has a hole');
      assertJsonData(value[i], path, depth + 1, ancestors);
      path.pop();
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw invalid('not-json', pathText(path), 'only plain objects are JSON data');
    for (const key of Object.keys(value)) {
      path.push(key);
      if (hasLoneSurrogate(key)) throw invalid('lone-surrogate', pathText(path), 'key has an unpaired surrogate');
      assertJsonData((value as Record<string, unknown>)[key], path, depth + 1, ancestors);
      path.pop();
    }
  }
  ancestors.pop();
}

function invalid(reason: string, path: string, what: string, cause?: unknown): EvidenceError {
  return new EvidenceError('EVIDENCE_ENTRY_INVALID', reason, `${path}: ${what}`, cause === undefined ? {} : { cause });
}
