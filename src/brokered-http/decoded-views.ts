/**
 * Decoded views of upstream bytes, for the scrubber. Each view undoes one
 * escaping scheme (or all of them at once, for mixed escaping) and keeps, for
 * every output byte, the offset in the source where its escape started, so a
 * match in the view maps back to a range of the original bytes. Decoding is a
 * single left-to-right pass, so the cost stays linear in the input.
 */

export type Escaping = 'json' | 'url' | 'html';

export interface DecodedView {
  readonly bytes: Buffer;
  /** starts[i] is the source offset of the escape that produced bytes[i]. */
  readonly starts: Uint32Array;
}

const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const AMPERSAND = 0x26;

/** JSON's two-character escapes: escape letter → byte. */
const JSON_SHORT: Readonly<Record<number, number>> = Object.freeze({
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
});

const HTML_NAMED: Readonly<Record<string, number>> = Object.freeze({ amp: 0x26, lt: 0x3c, gt: 0x3e, quot: 0x22, apos: 0x27 });

const hexVal = (c: number | undefined): number =>
  c === undefined ? -1 : c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;

function hex4(b: Uint8Array, p: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const h = hexVal(b[p + i]);
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

/** Writes a code point as UTF-8 into out at o; returns the new offset. */
function putUtf8(out: Buffer, o: number, cp: number): number {
  if (cp < 0x80) {
    out[o++] = cp;
  } else if (cp < 0x800) {
    out[o++] = 0xc0 | (cp >> 6);
    out[o++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[o++] = 0xe0 | (cp >> 12);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  } else {
    out[o++] = 0xf0 | (cp >> 18);
    out[o++] = 0x80 | ((cp >> 12) & 0x3f);
    out[o++] = 0x80 | ((cp >> 6) & 0x3f);
    out[o++] = 0x80 | (cp & 0x3f);
  }
  return o;
}

/** A JSON escape at p: [code point or byte, length], or undefined. Lone surrogates are left alone. */
function jsonEscape(b: Uint8Array, p: number): [cp: number, len: number] | undefined {
  const e = b[p + 1];
  if (e === 0x75) {
    const cu = hex4(b, p + 2);
    if (cu < 0) return undefined;
    if (cu >= 0xd800 && cu <= 0xdbff) {
      const lo = b[p + 6] === BACKSLASH && b[p + 7] === 0x75 ? hex4(b, p + 8) : -1;
      if (lo < 0xdc00 || lo > 0xdfff) return undefined;
      return [0x10000 + ((cu - 0xd800) << 10) + (lo - 0xdc00), 12];
    }
    if (cu >= 0xdc00 && cu <= 0xdfff) return undefined;
    return [cu, 6];
  }
  const short = e === undefined ? undefined : JSON_SHORT[e];
  return short === undefined ? undefined : [short, 2];
}

/** An HTML character reference at p: "&#65;", "&#x41;" or a few named ones. */
function htmlReference(b: Uint8Array, p: number): [cp: number, len: number] | undefined {
  let i = p + 1;
  if (b[i] !== 0x23) {
    let name = '';
    while (i < p + 6 && b[i] !== undefined && b[i] !== 0x3b) name += String.fromCharCode(b[i++]!);
    const cp = b[i] === 0x3b ? HTML_NAMED[name] : undefined;
    return cp === undefined ? undefined : [cp, i + 1 - p];
  }
  i++;
  const isHex = b[i] === 0x78 || b[i] === 0x58;
  if (isHex) i++;
  const digitsStart = i;
  let cp = 0;
  while (i - digitsStart < 8) {
    const v = isHex ? hexVal(b[i]) : b[i] !== undefined && b[i]! >= 0x30 && b[i]! <= 0x39 ? b[i]! - 0x30 : -1;
    if (v < 0) break;
    cp = cp * (isHex ? 16 : 10) + v;
    i++;
  }
  if (i === digitsStart || b[i] !== 0x3b || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined;
  return [cp, i + 1 - p];
}

/**
 * Decodes `src` under the given escapings. Returns undefined when nothing
 * was decoded (the view would equal the source).
 */
export function decodeView(src: Uint8Array, escapings: readonly Escaping[]): DecodedView | undefined {
  const json = escapings.includes('json');
  const url = escapings.includes('url');
  const html = escapings.includes('html');
  // Decoding never lengthens: every escape is at least as long as its UTF-8.
  const out = Buffer.allocUnsafe(src.length);
  const starts = new Uint32Array(src.length);
  let o = 0;
  let decoded = false;
  for (let p = 0; p < src.length; ) {
    const c = src[p]!;
    let hit: [number, number] | undefined;
    let asByte = false;
    if (json && c === BACKSLASH) {
      hit = jsonEscape(src, p);
    } else if (url && c === PERCENT) {
      const hi = hexVal(src[p + 1]);
      const lo = hexVal(src[p + 2]);
      if (hi >= 0 && lo >= 0) {
        hit = [hi * 16 + lo, 3];
        asByte = true;
      }
    } else if (html && c === AMPERSAND) {
      hit = htmlReference(src, p);
    }
    if (hit) {
      decoded = true;
      const from = o;
      if (asByte) out[o++] = hit[0];
      else o = putUtf8(out, o, hit[0]);
      starts.fill(p, from, o);
      p += hit[1];
    } else {
      out[o] = c;
      starts[o++] = p++;
    }
  }
  return decoded ? { bytes: out.subarray(0, o), starts: starts.subarray(0, o) } : undefined;
}

/** Maps a match [i, i+len) in a view back to a source range [start, end). */
export function sourceRange(view: DecodedView, i: number, len: number, sourceLength: number): [number, number] {
  const start = view.starts[i]!;
  const lastStart = view.starts[i + len - 1]!;
  // The match ends where the escape holding its last byte ends: at the next different start.
  let k = i + len;
  while (k < view.starts.length && view.starts[k] === lastStart) k++;
  return [start, k < view.starts.length ? view.starts[k]! : sourceLength];
}
