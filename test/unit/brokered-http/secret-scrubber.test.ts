import { strict as assert } from 'node:assert';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { SecretValue } from '../../../src/lib/secret-value';
import { base64Core, MIN_BASE64_CORE } from '../../../src/brokered-http/secret-forms';
import { REDACTED, SecretScrubber } from '../../../src/brokered-http/secret-scrubber';
import { secretEchoForms } from '../../helpers/https-upstream';
import { findSecretLeaks } from './leak-check';

const scrubberFor = (s: string | Uint8Array): SecretScrubber =>
  SecretScrubber.of(typeof s === 'string' ? SecretValue.fromString(s) : SecretValue.fromBytes(s));

/** Surrounding text: printable and control characters, but no secret material. */
const filler = fc.string({ unit: 'binary', maxLength: 40 });
const bytesFiller = fc.uint8Array({ maxLength: 40 });
const binarySecret = fc.uint8Array({ minLength: 4, maxLength: 48 });
const textSecret = fc.string({ unit: 'binary', minLength: 4, maxLength: 32 }).filter((s) => Buffer.byteLength(s) >= 4);
const RUNS = { numRuns: 300 };

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

describe('brokered-http SecretScrubber', () => {
  it('removes every echo form of the upstream helper, in text and as headers', () => {
    const secret = 'Sk_live/4+Zq "w\\x&y=z?~9Tb';
    const scrubber = scrubberFor(secret);
    for (const [name, form] of Object.entries(secretEchoForms(secret))) {
      const text = `before ${form} after`;
      assert.ok(findSecretLeaks(text, secret).length > 0, `leak check sees ${name} unscrubbed`);
      const out = scrubber.scrubString(text);
      assert.ok(out.count >= 1, name);
      assert.deepEqual(findSecretLeaks(out.value, secret), [], `${name}: ${out.value}`);
      assert.deepEqual(findSecretLeaks(scrubber.scrubHeaderValue(form).value, secret), [], `${name} as header`);
    }
  });

  it('replaces with a fixed marker, so the output length does not reveal the secret length', () => {
    for (const s of ['abcd', 'a-much-longer-secret-value-0123456789']) {
      assert.equal(scrubberFor(s).scrubString(`x${s}y`).value, `x${REDACTED}y`);
    }
  });

  it('leaves unrelated text alone and returns the same buffer when clean', () => {
    const scrubber = scrubberFor('correct horse battery staple');
    const input = Buffer.from('{"ok":true,"note":"correct horse, wrong battery %20 \\u0041 &amp;"}');
    const out = scrubber.scrub(input);
    assert.equal(out.count, 0);
    assert.equal(out.value, input);
  });

  it('catches mixed escaping inside one occurrence', () => {
    const scrubber = scrubberFor('p@ss/w0rd');
    for (const mixed of ['p%40ss\\/w0rd', 'p\\u0040ss%2Fw0rd', 'p&#64;ss&#x2f;w0rd', 'p%40ss\\u002Fw0rd']) {
      assert.equal(scrubber.scrubString(mixed).value, REDACTED, mixed);
    }
  });

  it('handles non-ASCII secrets in UTF-8, JSON \\u escapes (incl. surrogate pairs), URL and HTML forms', () => {
    const secret = 'clé-🔑-秘密';
    const scrubber = scrubberFor(secret);
    const forms = [
      secret,
      JSON.stringify(secret).slice(1, -1),
      Array.from(secret, (c) => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')).join(''),
      encodeURIComponent(secret),
      Array.from(secret, (c) => `&#${c.codePointAt(0)};`).join(''),
    ];
    for (const f of forms) assert.deepEqual(findSecretLeaks(scrubber.scrubString(`<${f}>`).value, secret), [], f);
  });

  it('prints as [SecretScrubber], never its patterns', () => {
    const scrubber = scrubberFor('s3cr3t-value');
    assert.equal(String(scrubber), '[SecretScrubber]');
    assert.equal(JSON.stringify({ scrubber }), '{"scrubber":"[SecretScrubber]"}');
    assert.equal(inspect(scrubber), '[SecretScrubber]');
  });

  it('scrubs several secrets at once (e.g. old and new during rotation)', () => {
    const scrubber = SecretScrubber.of(SecretValue.fromString('old-secret-1'), SecretValue.fromString('new-secret-2'));
    assert.equal(scrubber.scrubString('old-secret-1 new-secret-2').value, `${REDACTED} ${REDACTED}`);
  });

  it('base64 cores are the part of the encoding that depends on the secret alone', () => {
    const secret = Buffer.from('0123456789');
    for (const offset of [0, 1, 2] as const) {
      const core = base64Core(secret, offset, 'base64');
      assert.ok(core.length >= MIN_BASE64_CORE);
      for (const pre of ['', 'a', 'ab', 'abc', 'abcd']) {
        if (pre.length % 3 !== offset) continue;
        for (const post of ['', 'x', 'xy', 'xyz']) {
          assert.ok(Buffer.from(pre + secret.toString() + post).toString('base64').includes(core), `${offset} ${pre} ${post}`);
        }
      }
    }
  });

  it('matches the raw secret in any ASCII case, and hex whose digits are \\u00XX- or %XX-escaped one by one', () => {
    const secret = 'tok_Ab9Zq';
    const scrubber = scrubberFor(secret);
    const hex = Buffer.from(secret).toString('hex');
    const forms = [
      'TOK_AB9ZQ',
      'tOK_aB9zQ',
      Array.from(hex, (c) => `\\u00${hex2(c.charCodeAt(0))}`).join(''),
      Array.from(hex.toUpperCase(), (c) => `%${hex2(c.charCodeAt(0)).toUpperCase()}`).join(''),
      Array.from(hex.toUpperCase(), (c, i) => (i % 2 ? `&#${c.charCodeAt(0)};` : `\\u00${hex2(c.charCodeAt(0))}`)).join(''),
    ];
    for (const form of forms) assert.equal(scrubber.scrubString(`a ${form} b`).value, `a ${REDACTED} b`, form);
    // Base64 stays case-sensitive: a case-changed core is other data.
    const core = Buffer.from(secret).toString('base64').slice(0, 8);
    assert.equal(scrubber.scrubString(`x ${core.toLowerCase()} y`).count, core === core.toLowerCase() ? 1 : 0);
  });

  it('finds base64 wrapped at 76 columns (CRLF or LF, raw or as JSON \\n), redacting across the line break only', () => {
    const secret = 'sk_live_3Jd8Qw2Lp5Zx9Rt7Vn4Hc1';
    const scrubber = scrubberFor(secret);
    for (let offset = 30; offset < 57; offset++) {
      const blob = Buffer.concat([Buffer.alloc(offset, 0x41), Buffer.from(secret), Buffer.alloc(40, 0x42)]).toString('base64');
      const lines = blob.match(/.{1,76}/g)!;
      for (const text of [lines.join('\r\n'), lines.join('\n'), JSON.stringify({ a: lines.join('\n') }), JSON.stringify({ a: lines.join('\r\n') })]) {
        const out = scrubber.scrubString(text).value;
        const rejoined = out.replace(/\\r|\\n|\r|\n/g, '');
        for (const run of rejoined.match(/[A-Za-z0-9+/=]{8,}/g) ?? []) {
          assert.ok(!Buffer.from(run, 'base64').toString('latin1').includes(secret), `offset ${offset}: ${out}`);
        }
        assert.ok(out.startsWith(text.slice(0, 10)) && out.endsWith(text.slice(-10)), 'only the occurrence is redacted');
      }
    }
  });

  describe('property: a random secret embedded in random text is always removed', () => {
    it('raw bytes', () => {
      fc.assert(
        fc.property(binarySecret, bytesFiller, bytesFiller, (secret, pre, post) => {
          const out = scrubberFor(secret).scrub(Buffer.concat([pre, secret, post])).value;
          return !out.includes(Buffer.from(secret));
        }),
        RUNS,
      );
    });

    it('hex, lower and upper case', () => {
      fc.assert(
        fc.property(binarySecret, filler, filler, fc.boolean(), (secret, pre, post, upper) => {
          const h = Buffer.from(secret).toString('hex');
          const out = scrubberFor(secret).scrubString(`${pre}${upper ? h.toUpperCase() : h}${post}`).value;
          return findSecretLeaks(out, Buffer.from(secret)).length === 0;
        }),
        RUNS,
      );
    });

    it('base64 and base64url at every byte offset inside a longer encoding', () => {
      fc.assert(
        fc.property(
          binarySecret,
          fc.uint8Array({ maxLength: 8 }),
          fc.uint8Array({ maxLength: 8 }),
          fc.constantFrom('base64' as const, 'base64url' as const),
          filler,
          filler,
          (secret, before, after, enc, pre, post) => {
            const encoded = Buffer.concat([before, secret, after]).toString(enc);
            const out = scrubberFor(secret).scrubString(`${pre}${encoded}${post}`).value;
            return findSecretLeaks(out, Buffer.from(secret)).length === 0;
          },
        ),
        RUNS,
      );
    });

    it('JSON-escaped (JSON.stringify, \\/ and every-character \\u00XX forms)', () => {
      fc.assert(
        fc.property(textSecret, filler, filler, fc.constantFrom('stringify', 'slash', 'all-u'), (secret, pre, post, style) => {
          let body = JSON.stringify({ pre, token: secret, post });
          if (style === 'slash') body = body.replace(/\//g, '\\/');
          if (style === 'all-u') {
            const inner = Array.from(secret, (c) => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')).join('');
            body = `{"pre":${JSON.stringify(pre)},"token":"${inner}"}`;
          }
          const out = scrubberFor(secret).scrubString(body).value;
          return findSecretLeaks(out, secret).length === 0;
        }),
        RUNS,
      );
    });

    it('URL-encoded (upper and lower %XX, + for space)', () => {
      fc.assert(
        fc.property(textSecret, filler, filler, fc.constantFrom('upper', 'lower', 'form'), (secret, pre, post, style) => {
          let enc = encodeURIComponent(secret);
          if (style === 'lower') enc = enc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
          if (style === 'form') enc = new URLSearchParams({ v: secret }).toString().slice(2);
          const out = scrubberFor(secret).scrubString(`${pre}?a=${enc}&b=${post}`).value;
          return findSecretLeaks(out, secret).length === 0;
        }),
        RUNS,
      );
    });

    it('every byte percent-encoded, for binary secrets', () => {
      fc.assert(
        fc.property(binarySecret, filler, filler, (secret, pre, post) => {
          const enc = Array.from(secret, (b) => `%${hex2(b)}`).join('');
          const out = scrubberFor(secret).scrubString(`${pre}${enc}${post}`).value;
          return findSecretLeaks(out, Buffer.from(secret)).length === 0;
        }),
        RUNS,
      );
    });

    it('HTML character references', () => {
      fc.assert(
        fc.property(textSecret, filler, filler, fc.boolean(), (secret, pre, post, hex) => {
          const enc = Array.from(secret, (c) => (hex ? `&#x${c.codePointAt(0)!.toString(16)};` : `&#${c.codePointAt(0)};`)).join('');
          const out = scrubberFor(secret).scrubString(`${pre}${enc}${post}`).value;
          return findSecretLeaks(out, secret).length === 0;
        }),
        RUNS,
      );
    });
  });
});
