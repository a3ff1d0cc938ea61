import { BrokerError } from '../lib/errors';

/**
 * Upstream answers the scrubber could not read, refused before any byte of
 * them reaches the agent. The scrubber matches bytes, so it needs the body as
 * sent minus Content-Encoding, in an ASCII-compatible charset:
 * - a Transfer-Encoding other than `chunked` (`gzip, chunked`): Node strips
 *   only the chunked framing, so the agent would get, and could decompress,
 *   bytes the scrubber never saw in clear;
 * - a charset that is not ASCII-compatible (UTF-16, UTF-32, …), declared or
 *   shown by a byte-order mark: the secret's bytes are interleaved with zeros.
 * Refusals are UNAVAILABLE, like a Content-Encoding that cannot be undone,
 * and their message is fixed: it never carries upstream bytes.
 */

const cannotScrub = (action: string, why: string): BrokerError =>
  new BrokerError('unavailable', `the upstream of action ${action} sent a response the broker cannot scrub: ${why}`);

/** WHATWG encodings that are not ASCII-compatible (the Encoding Standard's exceptions). */
const NOT_ASCII_COMPATIBLE: readonly string[] = Object.freeze(['utf-16le', 'utf-16be', 'iso-2022-jp', 'replacement']);

/** No charset at all, as seen in the wild (`file --mime` says `charset=binary`). */
const NO_CHARSET: readonly string[] = Object.freeze(['', 'binary']);

/** The byte-order marks of UTF-16 and UTF-32 (FF FE also starts the UTF-32LE one). */
const WIDE_BOMS: readonly Buffer[] = Object.freeze([Buffer.from([0xfe, 0xff]), Buffer.from([0xff, 0xfe]), Buffer.from([0x00, 0x00, 0xfe, 0xff])]);

function values(rawHeaders: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) out.push(rawHeaders[i + 1]!);
  return out;
}

/**
 * True when `label` names an ASCII-compatible charset: a WHATWG encoding
 * label other than UTF-16, ISO-2022-JP and the replacement encoding. An
 * unknown label is not: what cannot be decoded cannot be judged.
 */
export function isAsciiCompatibleCharset(label: string): boolean {
  const l = label.trim().toLowerCase();
  if (NO_CHARSET.includes(l)) return true;
  try {
    return !NOT_ASCII_COMPATIBLE.includes(new TextDecoder(l).encoding);
  } catch {
    return false;
  }
}

/** The charset parameters of Content-Type values (quoted or not). */
function charsets(contentTypes: readonly string[]): string[] {
  const out: string[] = [];
  for (const ct of contentTypes) {
    for (const m of ct.matchAll(/;\s*charset\s*=\s*(?:"([^"]*)"|([^\s;,]*))/gi)) out.push(m[1] ?? m[2] ?? '');
  }
  return out;
}

/** Checks the framing before the body is decoded: only `chunked` may be a transfer coding. */
export function checkTransferEncoding(action: string, rawHeaders: readonly string[]): void {
  const codings = values(rawHeaders, 'transfer-encoding').flatMap((v) => v.split(',').map((t) => t.trim().toLowerCase()));
  if (codings.length > 0 && (codings.length !== 1 || codings[0] !== 'chunked')) {
    throw cannotScrub(action, 'a Transfer-Encoding other than chunked');
  }
}

/** Checks the decoded body's charset (declared, or shown by a UTF-16/UTF-32 byte-order mark). */
export function checkTextEncoding(action: string, rawHeaders: readonly string[], body: Buffer): void {
  if (charsets(values(rawHeaders, 'content-type')).some((c) => !isAsciiCompatibleCharset(c))) {
    throw cannotScrub(action, 'a charset that is not ASCII-compatible (only ASCII-compatible charsets such as UTF-8 can be scrubbed)');
  }
  if (WIDE_BOMS.some((bom) => body.subarray(0, bom.length).equals(bom))) {
    throw cannotScrub(action, 'a UTF-16 or UTF-32 byte-order mark');
  }
}
