import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { MAX_ENTRY_BYTES, canonicalize, parseCanonical } from '../../../src/evidence/canonical-json';
import { VECTORS_DIR, jsonFilesUnder } from './vector-files';

describe('evidence/canonical-json', () => {
  describe('RFC 8785 vectors (cyberphone/json-canonicalization)', () => {
    const inputs = jsonFilesUnder('jcs/input');

    it('finds the vector files', () => {
      assert.ok(inputs.length >= 6, `only ${inputs.length} JCS inputs`);
    });

    for (const rel of inputs) {
      const name = path.basename(rel);
      it(`${name} canonicalises to its output byte for byte`, () => {
        const input: unknown = JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, rel), 'utf8'));
        const want = fs.readFileSync(path.join(VECTORS_DIR, 'jcs/output', name));
        assert.deepEqual(canonicalize(input), want);
        // The output is canonical, so it parses back and re-canonicalises to itself.
        assert.deepEqual(canonicalize(parseCanonical(want)), want);
      });
    }
  });

  describe('rejects values JSON would silently change', () => {
    const cases: [string, unknown, string][] = [
      ['NaN', { a: NaN }, 'non-finite'],
      ['Infinity', [1, Infinity], 'non-finite'],
      ['-Infinity', -Infinity, 'non-finite'],
      ['undefined at top level', undefined, 'not-json'],
      ['undefined property', { a: 1, b: undefined }, 'not-json'],
      ['undefined in an array', [1, undefined], 'not-json'],
      ['a hole in an array', [1, , 3], 'not-json'], // eslint-disable-line no-sparse-arrays
      ['a function', { f: () => 1 }, 'not-json'],
      ['a symbol', { s: Symbol('x') }, 'not-json'],
      ['a bigint', { n: 10n }, 'not-json'],
      ['a Date (toJSON)', { t: new Date(0) }, 'not-json'],
      ['a Map', new Map(), 'not-json'],
      ['a lone surrogate', { s: 'a\uD800b' }, 'lone-surrogate'],
      ['a lone surrogate key', { '\uDC00': 1 }, 'lone-surrogate'],
    ];
    for (const [what, value, reason] of cases) {
      it(what, () => {
        assert.throws(() => canonicalize(value), { code: 'EVIDENCE_ENTRY_INVALID', reason });
      });
    }

    it('a circular value', () => {
      const a: Record<string, unknown> = {};
      a.self = a;
      assert.throws(() => canonicalize(a), { reason: 'circular' });
    });

    it('a shared (not circular) value is fine', () => {
      const shared = { x: 1 };
      assert.equal(canonicalize({ a: shared, b: shared }).toString(), '{"a":{"x":1},"b":{"x":1}}');
    });

    it('nesting deeper than 64', () => {
      let v: unknown = 1;
      for (let i = 0; i < 70; i++) v = [v];
      assert.throws(() => canonicalize(v), { reason: 'too-deep' });
    });

    it('names the path of the bad value', () => {
      assert.throws(() => canonicalize({ decision: { amounts: [1, NaN] } }), /\$\.decision\.amounts\[1\]: number is not finite/);
    });
  });

  describe('the 64 KiB entry limit', () => {
    const ofSize = (n: number): { s: string } => ({ s: 'x'.repeat(n - '{"s":""}'.length) });

    it('accepts exactly 64 KiB and refuses one byte more', () => {
      assert.equal(canonicalize(ofSize(MAX_ENTRY_BYTES)).length, MAX_ENTRY_BYTES);
      assert.throws(() => canonicalize(ofSize(MAX_ENTRY_BYTES + 1)), { code: 'EVIDENCE_ENTRY_INVALID', reason: 'too-large' });
      assert.throws(() => parseCanonical(Buffer.from(JSON.stringify(ofSize(MAX_ENTRY_BYTES + 1)))), { reason: 'too-large' });
    });

    it('counts UTF-8 bytes, not characters', () => {
      const euro = { s: '€'.repeat(22_000) }; // 66,000 bytes in UTF-8, 22,008 characters
      assert.throws(() => canonicalize(euro), { reason: 'too-large' });
    });
  });

  describe('parseCanonical', () => {
    it('accepts canonical bytes', () => {
      assert.deepEqual(parseCanonical(Buffer.from('{"a":[1,"x",null],"b":true}')), { a: [1, 'x', null], b: true });
    });

    const bad: [string, Buffer][] = [
      ['whitespace', Buffer.from('{"a": 1}')],
      ['key order', Buffer.from('{"b":1,"a":2}')],
      ['duplicate keys', Buffer.from('{"a":1,"a":1}')],
      ['number spelling', Buffer.from('{"a":1.0}')],
      ['string escape spelling', Buffer.from('{"a":"\\u0041"}')],
      ['a trailing newline', Buffer.from('{"a":1}\n')],
      ['a byte order mark', Buffer.from('\uFEFF{"a":1}')],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
      ['not JSON', Buffer.from('{"a":')],
    ];
    for (const [what, bytes] of bad) {
      it(`refuses ${what}`, () => {
        assert.throws(() => parseCanonical(bytes), { code: 'EVIDENCE_ENTRY_INVALID' });
      });
    }

    it('round-trips arbitrary JSON data (fast-check)', () => {
      fc.assert(
        fc.property(fc.jsonValue(), (v) => {
          const bytes = canonicalize(v);
          return canonicalize(parseCanonical(bytes)).equals(bytes);
        }),
        { numRuns: 300 },
      );
    });
  });
});
