import { strict as assert } from 'node:assert';
import { neutralise, quoted, safeJson, shown } from '../../../src/cli/terminal-text';

/**
 * What an approver reads must be what the agent sent: characters a terminal
 * draws as nothing (tag characters, fillers, variation selectors, other
 * default-ignorable or format characters) must not hide part of a purpose,
 * a resource or a params key. Each is shown as a visible escape.
 */
describe('terminal text: invisible characters an agent could hide text with', () => {
  // U+E0041 TAG LATIN CAPITAL LETTER A (invisible "ASCII smuggling"), U+E007F CANCEL TAG, U+3164 HANGUL FILLER,
  // U+115F HANGUL CHOSEONG FILLER, U+FFA0 HALFWIDTH HANGUL FILLER, U+034F COMBINING GRAPHEME JOINER,
  // U+FE0F VARIATION SELECTOR-16, U+E0100 VARIATION SELECTOR-17, U+1D173 MUSICAL SYMBOL BEGIN BEAM,
  // U+0600 ARABIC NUMBER SIGN (format), U+17B4 KHMER VOWEL INHERENT AQ.
  const hidden: ReadonlyArray<[string, string]> = [
    ['\u{E0041}', '\\u{e0041}'],
    ['\u{E007F}', '\\u{e007f}'],
    ['\u3164', '\\u3164'],
    ['\u115F', '\\u115f'],
    ['\uFFA0', '\\uffa0'],
    ['\u034F', '\\u034f'],
    ['\uFE0F', '\\ufe0f'],
    ['\u{E0100}', '\\u{e0100}'],
    ['\u{1D173}', '\\u{1d173}'],
    ['\u0600', '\\u0600'],
    ['\u17B4', '\\u17b4'],
  ];

  it('neutralise shows each as a visible escape, and leaves visible text (accents, CJK, emoji) alone', () => {
    for (const [c, want] of hidden) assert.equal(neutralise(`a${c}b`), `a${want}b`, want);
    assert.equal(neutralise('café 退款 💸 ✓'), 'café 退款 💸 ✓');
    // The earlier set still holds.
    assert.equal(neutralise('a\u001b[2Jb\nc\u202ed\u009be\u200bf\u2066g'), 'a\\x1b[2Jb\\x0ac\\u202ed\\x9be\\u200bf\\u2066g');
  });

  it('a params key with a hidden tail cannot pass for the real key on screen', () => {
    const params = JSON.stringify({ amount: 5000, ['amount' + '\u{E0020}\u{E0041}']: 500000 });
    const out = neutralise(params);
    assert.equal(out, '{"amount":5000,"amount\\u{e0020}\\u{e0041}":500000}');
    assert.ok(!/[\u{E0000}-\u{E0FFF}]/u.test(out));
    assert.equal(quoted('refund\u3164\u3164approved'), '"refund\\u3164\\u3164approved"');
    assert.equal(shown('stripe\u{E0041}'), '"stripe\\u{e0041}"');
  });

  it('safeJson escapes them as JSON \\u escapes (surrogate pairs beyond the BMP) and parses back to the same data', () => {
    const data = { purpose: hidden.map(([c]) => `x${c}`).join(''), [`key\u{E0041}`]: 'v\uFE0F' };
    const json = safeJson(data);
    for (const [c] of hidden) assert.ok(!json.includes(c), JSON.stringify(c));
    assert.ok(json.includes('\\udb40\\udc41'), json);
    assert.deepEqual(JSON.parse(json), data);
  });
});

describe('terminal text: bytes in --json output (finding F8)', () => {
  it('safeJson prints bytes fields (a Buffer or a Uint8Array, at any depth) as base64, as the proto JSON mapping does', () => {
    const hash = Buffer.from('8a7b00ff'.repeat(8), 'hex');
    const data = { evidence: { origin: 'example.org/sb', index: '7', leafHash: hash }, raw: new Uint8Array([1, 2, 3]), list: [Buffer.from('hi')] };
    const parsed = JSON.parse(safeJson(data)) as Record<string, unknown>;
    assert.deepEqual(parsed, { evidence: { origin: 'example.org/sb', index: '7', leafHash: hash.toString('base64') }, raw: 'AQID', list: ['aGk='] });
    assert.equal(safeJson(Buffer.from([0xfb, 0xff]), 0), '"+/8="');
  });
});
