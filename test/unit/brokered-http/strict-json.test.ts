import { strict as assert } from 'node:assert';
import { isJsonNumber, parseStrictJson, StrictJsonError, type JsonValue } from '../../../src/brokered-http/strict-json';

const parse = (s: string | Buffer): JsonValue => parseStrictJson(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
const refuses = (s: string | Buffer, message: RegExp): void => {
  assert.throws(() => parse(s), (err: unknown) => err instanceof StrictJsonError && message.test(err.message));
};

describe('brokered-http strict JSON', () => {
  it('parses objects, arrays and scalars, keeping number text', () => {
    const v = parse(' {"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"],"b":{}} ');
    assert.ok(v instanceof Map);
    const a = v.get('a') as JsonValue[];
    assert.ok(isJsonNumber(a[1]!));
    assert.equal(a[1].text, '-2.5e3');
    assert.deepEqual(a.slice(2), [true, false, null, 'xé\n']);
    assert.ok(v.get('b') instanceof Map);
  });

  it('refuses duplicate keys at any depth', () => {
    refuses('{"a":1,"a":2}', /duplicate key "a"/);
    refuses('{"x":{"y":[{"a":1,"a":1}]}}', /duplicate key "a"/);
    refuses('{"a":1,"\\u0061":2}', /duplicate key "a"/);
  });

  it('refuses keys that differ only by case or compatibility form', () => {
    refuses('{"amount":1,"Amount":2}', /differ only by case/);
    refuses('{"s":1,"\\u017f":2}', /differ only by case/); // ſ (long s) folds to s
    refuses('{"k":1,"\\u212a":2}', /differ only by case/); // Kelvin sign
  });

  it('refuses lone surrogates, invalid UTF-8, a BOM and trailing content', () => {
    refuses('{"a":"\\ud800"}', /lone surrogate/);
    refuses(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), /UTF-8/);
    refuses('\ufeff{}', /unexpected character/);
    refuses('{} {}', /unexpected content/);
    refuses('{"a":1,}', /string key/);
    refuses('[1,]', /unexpected character/);
  });

  it('refuses malformed numbers and strings', () => {
    for (const bad of ['01', '1.', '.5', '+1', '-', '1e', 'NaN', 'Infinity', '"\\x41"', '"a\nb"', "'a'"]) {
      assert.throws(() => parse(bad), StrictJsonError, bad);
    }
  });

  it('bounds nesting depth', () => {
    refuses('['.repeat(100) + ']'.repeat(100), /deeper than 64/);
    assert.doesNotThrow(() => parse('['.repeat(60) + ']'.repeat(60)));
  });

  it('accepts exactly what JSON.parse accepts on well-formed unique-key input', () => {
    const text = '{"n":[0,-0,1e2,1.5,123456789012345678901234567890],"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u2028 😀","o":{"x":null}}';
    const toPlain = (v: JsonValue): unknown =>
      v instanceof Map ? Object.fromEntries([...v].map(([k, x]) => [k, toPlain(x)])) : Array.isArray(v) ? v.map(toPlain) : isJsonNumber(v as JsonValue) ? Number((v as { text: string }).text) : v;
    assert.deepEqual(toPlain(parse(text)), JSON.parse(text));
  });
});
