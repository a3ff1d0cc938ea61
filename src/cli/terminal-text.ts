/**
 * Text someone else wrote (an agent's purpose, params, resource) shown on an
 * approver's terminal. A control character or escape sequence in it must not
 * move the cursor, clear the screen, recolour or reorder what the approver
 * reads, start a line that looks like the CLI's own, or hide part of the text:
 * every control (C0, DEL, C1), format character (bidirectional overrides and
 * isolates, zero-width characters, tag characters), line or paragraph
 * separator and default-ignorable character (fillers, variation selectors) is
 * shown as a visible `\xNN`, `\uNNNN` or `\u{NNNNN}` escape.
 */
/** The unsafe characters as a regex class body (a /gu regex is made per call, never kept). */
const UNSAFE = '\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Default_Ignorable_Code_Point}';
const unsafe = (): RegExp => new RegExp(`[${UNSAFE}]`, 'gu');

/** Less C0: JSON.stringify escapes C0 inside strings itself, and its own layout uses raw newlines. */
const unsafeInJson = (): RegExp => new RegExp(`(?![\\u0000-\\u001f])[${UNSAFE}]`, 'gu');

const escape = (c: string): string => {
  const code = c.codePointAt(0)!;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code < 0x10000 ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
};

/** `s` with every unsafe character replaced by a visible escape (nothing else changes). */
export function neutralise(s: string): string {
  return s.replace(unsafe(), escape);
}

/** `s` as a JSON string literal (quotes, backslashes and C0 escaped by JSON), then neutralised: unambiguous. */
export function quoted(s: string): string {
  return neutralise(JSON.stringify(s));
}

/** Plain printable text as it is; anything else quoted, so what is shown cannot be mistaken. */
export function shown(s: string): string {
  return /^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(s) && !/["\\]/.test(s) ? s : quoted(s);
}

/** A character as JSON `\uNNNN` escapes (a surrogate pair beyond the BMP), which parse back to it. */
const jsonEscape = (c: string): string => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/**
 * Bytes (a proto `bytes` field such as `evidence.leaf_hash`) as standard
 * base64, as the proto JSON mapping and the other --json outputs print them,
 * not Node's `{"type":"Buffer","data":[…]}`. The holder's own value is read:
 * a Buffer's toJSON has run by the time the replacer sees `value`.
 */
function bytesAsBase64(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value;
}

/**
 * JSON for --json output that is also safe on a terminal: characters JSON
 * leaves raw (C1 controls, format characters, separators, default-ignorable
 * characters) are written as `\uNNNN` escapes, which parse back to the same
 * strings. Bytes are printed as base64.
 */
export function safeJson(data: unknown, indent = 2): string {
  return JSON.stringify(data, bytesAsBase64, indent || undefined).replace(unsafeInJson(), jsonEscape);
}
