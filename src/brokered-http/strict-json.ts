import { quote } from './quote-text';

/**
 * A strict JSON parser for agent bodies. JSON.parse is not enough for binding
 * authority to values: it silently keeps the last of duplicate keys, rounds
 * numbers (100.000000000000001 becomes 100, 2^53+1 becomes 2^53) and accepts
 * lone surrogates, while the upstream may read the same bytes differently.
 * Anything two reasonable parsers could disagree on is refused here:
 * - duplicate keys, also when they differ only by case or Unicode compatibility
 *   form (Go's encoding/json matches struct fields case-insensitively);
 * - lone surrogates (some parsers replace them with U+FFFD, merging keys);
 * - a byte-order mark, invalid UTF-8, or anything after the value.
 * Numbers keep their source text so callers can judge them exactly.
 */

export interface JsonNumber {
  readonly kind: 'number';
  /** The number exactly as written. */
  readonly text: string;
}

export type JsonValue = null | boolean | string | JsonNumber | readonly JsonValue[] | ReadonlyMap<string, JsonValue>;

export const MAX_JSON_DEPTH = 64;

export class StrictJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

export const isJsonNumber = (v: JsonValue): v is JsonNumber => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map);

export const isJsonObject = (v: JsonValue): v is ReadonlyMap<string, JsonValue> => v instanceof Map;

/** Key identity for the duplicate check: case and compatibility forms folded. */
const foldKey = (key: string): string => key.normalize('NFKC').toLowerCase();

export const hasLoneSurrogate = (s: string): boolean => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = Object.freeze({ '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' });

export function parseStrictJson(bytes: Uint8Array): JsonValue {
  let text: string;
  try {
    // ignoreBOM keeps a BOM in the text, where the parser refuses it.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new StrictJsonError('is not valid UTF-8');
  }
  const p = new Parser(text);
  p.skipWs();
  const value = p.value(0);
  p.skipWs();
  if (p.pos !== text.length) throw new StrictJsonError(`has unexpected content at offset ${p.pos}`);
  return value;
}

class Parser {
  pos = 0;
  constructor(private readonly s: string) {}

  private fail(what: string): never {
    throw new StrictJsonError(`${what} at offset ${this.pos}`);
  }

  skipWs(): void {
    while (this.pos < this.s.length) {
      const c = this.s.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) this.fail(`nests deeper than ${MAX_JSON_DEPTH}`);
    const c = this.s[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    return this.fail(c === undefined ? 'ends early' : 'has an unexpected character');
  }

  private object(depth: number): JsonValue {
    this.pos++;
    const out = new Map<string, JsonValue>();
    const folded = new Map<string, string>();
    this.skipWs();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.s[this.pos] !== '"') this.fail('expects a string key');
      const key = this.string();
      const f = foldKey(key);
      const prior = folded.get(f);
      if (prior !== undefined) {
        throw new StrictJsonError(
          prior === key ? `has duplicate key ${quote(key)}` : `has keys ${quote(prior)} and ${quote(key)} that differ only by case or form`,
        );
      }
      folded.set(f, key);
      this.skipWs();
      if (this.s[this.pos] !== ':') this.fail('expects ":"');
      this.pos++;
      this.skipWs();
      out.set(key, this.value(depth + 1));
      this.skipWs();
      const c = this.s[this.pos++];
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail('expects "," or "}"');
      }
    }
  }

  private array(depth: number): JsonValue {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWs();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.value(depth + 1));
      this.skipWs();
      const c = this.s[this.pos++];
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail('expects "," or "]"');
      }
    }
  }

  private string(): string {
    const start = this.pos;
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.s[this.pos];
      if (c === undefined) this.fail('has an unterminated string');
      if (c === '"') break;
      if (c.charCodeAt(0) < 0x20) this.fail('has a control character in a string');
      if (c === '\\') {
        const e = this.s[this.pos + 1];
        if (e !== undefined && Object.hasOwn(SIMPLE_ESCAPES, e)) {
          out += SIMPLE_ESCAPES[e];
          this.pos += 2;
        } else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(this.s.slice(this.pos + 2, this.pos + 6))) {
          out += String.fromCharCode(parseInt(this.s.slice(this.pos + 2, this.pos + 6), 16));
          this.pos += 6;
        } else {
          this.fail('has an invalid escape');
        }
      } else {
        out += c;
        this.pos++;
      }
    }
    this.pos++;
    if (hasLoneSurrogate(out)) {
      this.pos = start;
      this.fail('has a lone surrogate in a string');
    }
    return out;
  }

  private number(): JsonNumber {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.s.slice(this.pos, this.pos + 400));
    if (!m || m[0].length === 400) this.fail('has an invalid or overlong number');
    this.pos += m[0].length;
    return Object.freeze({ kind: 'number', text: m[0] });
  }
}
