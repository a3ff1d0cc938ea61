import { inspect } from 'node:util';
import type { SecretValue } from '../lib/secret-value';
import { decodeView, sourceRange, type DecodedView, type Escaping } from './decoded-views';
import { lowerAscii, secretPatterns, type SecretPatterns } from './secret-forms';

export const REDACTED = '[REDACTED]';
const REDACTED_BYTES = Buffer.from(REDACTED, 'latin1');

/** Which escapings appear at all, judged by their lead byte; views for absent ones would equal the source. */
function presentEscapings(b: Buffer): Escaping[] {
  const present: Escaping[] = [];
  if (b.includes(0x5c)) present.push('json');
  if (b.includes(0x25)) present.push('url');
  if (b.includes(0x26)) present.push('html');
  return present;
}

/** Every occurrence of each pattern (non-overlapping per pattern), as source ranges. */
function find(hay: Buffer, patterns: readonly Buffer[], toSource: (i: number, len: number) => [number, number], out: Array<[number, number]>): void {
  for (const pat of patterns) {
    for (let i = hay.indexOf(pat); i >= 0; i = hay.indexOf(pat, i + pat.length)) out.push(toSource(i, pat.length));
  }
}

/** Bytes to search, and how a match in them maps back to a range of the source. */
interface Haystack {
  readonly bytes: Buffer;
  readonly toSource: (i: number, len: number) => [number, number];
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The haystack without CR and LF bytes, for base64 wrapped at 76 columns
 * (MIME) or 64 (PEM). A match maps to the range of `hay` from its first to
 * its last byte, line breaks inside included. Undefined without line breaks.
 */
function withoutLineBreaks(hay: Haystack): Haystack | undefined {
  const src = hay.bytes;
  if (!src.includes(LF) && !src.includes(CR)) return undefined;
  const out = Buffer.allocUnsafe(src.length);
  const index = new Uint32Array(src.length);
  let o = 0;
  for (let p = 0; p < src.length; p++) {
    const c = src[p]!;
    if (c === LF || c === CR) continue;
    out[o] = c;
    index[o++] = p;
  }
  return {
    bytes: out.subarray(0, o),
    toSource: (i, len) => {
      const from = index[i]!;
      return hay.toSource(from, index[i + len - 1]! + 1 - from);
    },
  };
}

/**
 * Removes every known form of one or more secrets from upstream output: raw
 * and hex (both in any case), base64 and base64url at the three byte offsets,
 * each also JSON-escaped (\uXXXX, \/ …), URL-encoded (%XX either case, + for
 * space) or HTML-escaped, including escapes mixed within one occurrence (so
 * hex whose digits are escaped one by one), and each also broken over lines
 * (CR/LF, raw or escaped as \n). Each
 * occurrence becomes "[REDACTED]" (fixed length, so the secret's length does
 * not show). Linear in the input: decoded views plus native substring search,
 * so a hostile upstream cannot stall the event loop with crafted bodies.
 *
 * The scrubber holds derived secret material, so it prints as
 * [SecretScrubber] and should not outlive the call.
 */
export class SecretScrubber {
  readonly #patterns: readonly SecretPatterns[];

  private constructor(patterns: SecretPatterns[]) {
    this.#patterns = patterns;
  }

  static of(...secrets: SecretValue[]): SecretScrubber {
    return new SecretScrubber(
      secrets.map((s) => {
        const bytes = s.reveal();
        const p = secretPatterns(bytes);
        bytes.fill(0);
        return p;
      }),
    );
  }

  /** Scrubs bytes; returns the input itself when nothing matched. */
  scrub(input: Uint8Array): { value: Buffer; count: number } {
    const b = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const literal = this.#patterns.flatMap((p) => p.literal);
    const caseless = this.#patterns.flatMap((p) => p.caseless);
    const ranges: Array<[number, number]> = [];

    const hays: Haystack[] = [{ bytes: b, toSource: (i, len) => [i, i + len] }];
    const present = presentEscapings(b);
    const views: Escaping[][] = present.map((e) => [e]);
    if (present.length > 1) views.push(present);
    for (const escapings of views) {
      const view: DecodedView | undefined = decodeView(b, escapings);
      if (view) hays.push({ bytes: view.bytes, toSource: (i, len) => sourceRange(view, i, len, b.length) });
    }
    for (const hay of [...hays]) {
      const unwrapped = withoutLineBreaks(hay);
      if (unwrapped) hays.push(unwrapped);
    }
    for (const hay of hays) {
      find(hay.bytes, literal, hay.toSource, ranges);
      if (caseless.length > 0) find(lowerAscii(hay.bytes), caseless, hay.toSource, ranges);
    }
    if (ranges.length === 0) return { value: b, count: 0 };

    // Overlapping finds (the same occurrence seen in several views) become one redaction.
    ranges.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
    const parts: Buffer[] = [];
    let count = 0;
    let last = 0;
    let curStart = -1;
    let curEnd = -1;
    const flush = (): void => {
      if (curStart < 0) return;
      parts.push(b.subarray(last, curStart), REDACTED_BYTES);
      last = curEnd;
      count++;
    };
    for (const [s, e] of ranges) {
      if (s < curEnd) {
        curEnd = Math.max(curEnd, e);
      } else {
        flush();
        curStart = s;
        curEnd = e;
      }
    }
    flush();
    parts.push(b.subarray(last));
    return { value: Buffer.concat(parts), count };
  }

  /** Scrubs a JavaScript string (as UTF-8). */
  scrubString(s: string): { value: string; count: number } {
    const r = this.scrub(Buffer.from(s, 'utf8'));
    return { value: r.count === 0 ? s : r.value.toString('utf8'), count: r.count };
  }

  /** Scrubs an HTTP header value as Node gives it (one character per byte). */
  scrubHeaderValue(s: string): { value: string; count: number } {
    const r = this.scrub(Buffer.from(s, 'latin1'));
    return { value: r.count === 0 ? s : r.value.toString('latin1'), count: r.count };
  }

  toString(): string {
    return '[SecretScrubber]';
  }

  toJSON(): string {
    return '[SecretScrubber]';
  }

  [inspect.custom](): string {
    return '[SecretScrubber]';
  }
}
