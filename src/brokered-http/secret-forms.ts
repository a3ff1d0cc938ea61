/**
 * The literal byte patterns a secret can take in an upstream's answer, before
 * any escaping: the secret itself, its hex, and the stable cores of its
 * base64 and base64url encodings. The scrubber looks for these in the raw
 * bytes and in decoded views (JSON, URL, HTML, all mixed), which covers the
 * escaped forms of each.
 */

export interface SecretPatterns {
  /** Searched in the raw bytes and in every decoded view. */
  readonly literal: readonly Buffer[];
  /** The secret with "+" for each space (form encoding), searched where "+" was not decoded. */
  readonly plusForSpace: readonly Buffer[];
  /** Lower-case ASCII (hex), searched in a lower-cased copy of the raw bytes. */
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

export function secretPatterns(secret: Uint8Array): SecretPatterns {
  if (secret.length === 0) return { literal: [], plusForSpace: [], caseless: [] };
  const raw = Buffer.from(secret);
  const cores: Buffer[] = [];
  for (const encoding of ['base64', 'base64url'] as const) {
    for (const offset of [0, 1, 2] as const) {
      const core = base64Core(secret, offset, encoding);
      if (core.length >= MIN_BASE64_CORE) cores.push(Buffer.from(core, 'latin1'));
    }
  }
  return {
    literal: unique([raw, ...cores]),
    plusForSpace: raw.includes(0x20) ? [Buffer.from(raw.map((b) => (b === 0x20 ? 0x2b : b)))] : [],
    caseless: [Buffer.from(raw.toString('hex'), 'latin1')],
  };
}
