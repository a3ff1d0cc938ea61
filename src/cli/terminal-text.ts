/**
 * Text someone else wrote (an agent's purpose, params, resource) shown on an
 * approver's terminal. A control character or escape sequence in it must not
 * move the cursor, clear the screen, recolour or reorder what the approver
 * reads, or start a line that looks like the CLI's own: every C0 and C1
 * control, DEL, bidirectional override or isolate, zero-width and line or
 * paragraph separator is shown as a visible `\xNN` or `\uNNNN` escape.
 */
/** The characters other than C0 and DEL (regex class source; a /g regex is made per call, never kept). */
const UNSAFE_BEYOND_C0 = '\\u0080-\\u009f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff\\ufff9-\\ufffb';
const unsafe = (): RegExp => new RegExp(`[\\u0000-\\u001f\\u007f${UNSAFE_BEYOND_C0}]`, 'g');

/** Less C0: JSON.stringify escapes C0 inside strings itself, and its own layout uses raw newlines. */
const unsafeInJson = (): RegExp => new RegExp(`[\\u007f${UNSAFE_BEYOND_C0}]`, 'g');

const escape = (c: string): string => {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
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

/**
 * JSON for --json output that is also safe on a terminal: characters JSON
 * leaves raw (C1 controls, bidi overrides, separators) are written as
 * `\uNNNN` escapes, which parse back to the same strings.
 */
export function safeJson(data: unknown, indent = 2): string {
  return JSON.stringify(data, null, indent || undefined).replace(unsafeInJson(), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
