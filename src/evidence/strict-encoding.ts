/**
 * Strict text encodings shared by the evidence formats. Each accepts exactly
 * one spelling of a value, so two different byte strings never mean the same
 * thing (no malleability in signed or hashed text).
 */

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/**
 * Decodes standard padded base64 (RFC 4648 §4) only in its canonical form
 * (re-encoding gives the same text: no stray padding bits or whitespace).
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (!B64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Parses an ASCII decimal with no sign and no leading zeroes, up to 2^53-1. */
export function parseDecimalStrict(text: string): number | undefined {
  if (!DECIMAL.test(text) || text.length > 16) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Decodes UTF-8, or returns undefined when the bytes are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  // ignoreBOM keeps a leading U+FEFF as text rather than silently dropping it.
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** True when a JS string holds an unpaired surrogate (it has no UTF-8 form). */
export function hasLoneSurrogate(text: string): boolean {
  // String.prototype.isWellFormed (ES2024, Node >= 20) is native; ES2022's lib does not declare it.
  return !(text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** True when text has an ASCII control character (below U+0020) other than newline. */
export function hasControlOtherThanNewline(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}
