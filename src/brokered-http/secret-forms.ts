/**
 * The literal byte patterns a secret can take in an upstream's answer, before
 * any escaping: the secret itself, its hex, and the stable cores of its
 * base64 and base64url encodings. The scrubber looks for these in the raw
 * bytes and in decoded views (JSON, URL, HTML, all mixed, each also without
 * line breaks), which covers the escaped and wrapped forms of each.
 */

export interface SecretPatterns {
  /** Case-sensitive (base64 and base64url cores), searched in every view. */
  readonly literal: readonly Buffer[];
  /**
   * Matched in any ASCII case: the secret, the secret with "+" for each space
   * (form encoding), and its hex. Stored lower-cased (A-Z only) and searched
   * in a lower-cased copy of every view.
   */
  readonly caseless: readonly Buffer[];
}

/** Base64 cores shorter than this are skipped: matching 1–3 characters would wipe unrelated text. Every secret of 4+ bytes keeps all its cores. */
export const MIN_BASE64_CORE = 4;

/**
 * The part of base64(prefix ‖ secret ‖ suffix) that depends on the secret
 * alone, for a prefix of `offset` bytes: whatever surrounds the secret in a
 * longer base64 string, these characters appear verbatim.
 */
export function base64Core(secret: Uint8Array, offset: 0 | 1 | 2, encoding: 'base64' | 'base64url'): string {
  const padded = Buffer.concat([Buffer.alloc(offset), secret, Buffer.alloc(2)]);
  const encoded = padded.toString(encoding);
  const start = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + secret.length)) / 6);
  return encoded.slice(start, end);
}

const unique = (list: Buffer[]): Buffer[] => list.filter((b, i) => b.length > 0 && list.findIndex((o) => o.equals(b)) === i);

/** A-Z to a-z; every other byte unchanged (so UTF-8 and binary secrets keep their bytes). */
export function lowerAscii(b: Uint8Array): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i]! += 0x20;
  return out;
}

export function secretPatterns(secret: Uint8Array): SecretPatterns {
  if (secret.length === 0) return { literal: [], caseless: [] };
  const raw = Buffer.from(secret);
  const cores: Buffer[] = [];
  for (const encoding of ['base64', 'base64url'] as const) {
    for (const offset of [0, 1, 2] as const) {
      const core = base64Core(secret, offset, encoding);
      if (core.length >= MIN_BASE64_CORE) cores.push(Buffer.from(core, 'latin1'));
    }
  }
  const plusForSpace = raw.includes(0x20) ? [Buffer.from(raw.map((b) => (b === 0x20 ? 0x2b : b)))] : [];
  return {
    literal: unique(cores),
    caseless: unique([raw, ...plusForSpace, Buffer.from(raw.toString('hex'), 'latin1')].map(lowerAscii)),
  };
}
