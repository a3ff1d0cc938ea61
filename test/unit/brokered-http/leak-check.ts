/**
 * An independent leak detector for tests: instead of re-deriving the
 * scrubber's patterns, it *decodes* the output every way an agent could
 * (base64/base64url at every alignment, hex, URL, JSON and HTML escapes) and
 * looks for the secret in the result.
 */

const decodeUrl = (s: string): Buffer => {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '+') {
      out.push(0x20);
    } else {
      out.push(...Buffer.from(c, 'latin1'));
    }
  }
  return Buffer.from(out);
};

const SHORT: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const decodeJson = (s: string): string =>
  s.replace(/\\(?:u([0-9A-Fa-f]{4})|(["\\/bfnrt]))/g, (_m, hex: string | undefined, ch: string | undefined) =>
    hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : SHORT[ch!]!,
  );

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeHtml = (s: string): string =>
  s.replace(/&(?:#([0-9]+)|#[xX]([0-9A-Fa-f]+)|(amp|lt|gt|quot|apos));/g, (_m, d: string | undefined, h: string | undefined, n: string | undefined) =>
    d !== undefined ? String.fromCodePoint(Number(d)) : h !== undefined ? String.fromCodePoint(parseInt(h, 16)) : NAMED[n!]!,
  );

function base64Hit(text: string, secret: Buffer): boolean {
  for (const run of text.match(/[A-Za-z0-9+/_-]{4,}/g) ?? []) {
    for (let shift = 0; shift < 4; shift++) {
      const part = run.slice(shift);
      // Node's base64 decoder takes both alphabets.
      if (Buffer.from(part, 'base64').includes(secret)) return true;
    }
  }
  return false;
}

function hexHit(text: string, secret: Buffer): boolean {
  for (const run of text.match(/[0-9A-Fa-f]{2,}/g) ?? []) {
    for (let shift = 0; shift < 2; shift++) {
      const part = run.slice(shift);
      if (Buffer.from(part.slice(0, part.length - (part.length % 2)), 'hex').includes(secret)) return true;
    }
  }
  return false;
}

/** The names of the decodings under which `secret` is still visible in `output`; empty when clean. */
export function findSecretLeaks(output: Buffer | string, secret: Buffer | string): string[] {
  const s = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, 'utf8');
  const bytes = Buffer.isBuffer(output) ? output : Buffer.from(output, 'utf8');
  const latin1 = bytes.toString('latin1');
  const utf8 = bytes.toString('utf8');
  const leaks: string[] = [];
  const inText = (t: string): boolean => Buffer.from(t, 'utf8').includes(s) || Buffer.from(t, 'latin1').includes(s);
  if (bytes.includes(s)) leaks.push('raw');
  if (hexHit(latin1, s)) leaks.push('hex');
  if (base64Hit(latin1, s)) leaks.push('base64');
  if (decodeUrl(latin1).includes(s)) leaks.push('url');
  if (inText(decodeJson(utf8))) leaks.push('json');
  if (inText(decodeHtml(utf8))) leaks.push('html');
  if (decodeUrl(decodeHtml(decodeJson(latin1))).includes(s)) leaks.push('mixed');
  return leaks;
}
