import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { bindingDifferences, bindingHash, type ApprovalBinding } from '../../../src/approvals/approval-binding';

const base: ApprovalBinding = {
  agent: 'support-bot',
  action: 'billing.refund',
  resource: 'stripe',
  params: {},
  purpose: 'refund',
  ttl_seconds: 300,
  max_uses: 1,
  rule: 'billing-refund-approved',
  policy_version: 'v1',
};
const sha = (s: string): string => createHash('sha256').update(Buffer.from(s, 'utf8')).digest('hex');
/** The hand-written RFC 8785 form of `base` with these params. */
const jcs = (params: string): string =>
  `{"action":"billing.refund","agent":"support-bot","max_uses":1,"params":${params},"policy_version":"v1","purpose":"refund","resource":"stripe","rule":"billing-refund-approved","ttl_seconds":300}`;

/**
 * The binding really is RFC 8785 (checked against forms written by hand from
 * the RFC, not against the library that makes them), so an approval's hash can
 * be recomputed by anyone, and no two different requests share a form.
 */
describe('approval binding: RFC 8785 details and shapes that must not collide', () => {
  it('numbers are serialised as ECMAScript does (RFC 8785 3.2.2.3)', () => {
    const params = { a: 1e21, b: 1e-7, c: 123.0, d: -0, e: 0.000001, f: 5e-324, g: 1.7976931348623157e308, h: 0.1 + 0.2, i: 333333333.3333333 };
    const want = '{"a":1e+21,"b":1e-7,"c":123,"d":0,"e":0.000001,"f":5e-324,"g":1.7976931348623157e+308,"h":0.30000000000000004,"i":333333333.3333333}';
    assert.equal(bindingHash({ ...base, params }), sha(jcs(want)));
  });

  it('keys sort by UTF-16 code units, not code points (RFC 8785 3.2.3): U+1F600 before U+FB33', () => {
    const params = { '\u20ac': 'Euro', '\r': 'CR', '\ufb33': 'Hebrew', '1': 'One', '\u{1F600}': 'Emoji', '\u0080': 'Control', '\u00f6': 'Latin' };
    const want = '{"\\r":"CR","1":"One","\u0080":"Control","\u00f6":"Latin","\u20ac":"Euro","\u{1F600}":"Emoji","\ufb33":"Hebrew"}';
    assert.equal(bindingHash({ ...base, params }), sha(jcs(want)));
  });

  it('strings: only ", \\ and C0 are escaped, lower-case hex, everything else as UTF-8 (no normalisation)', () => {
    const params = { s: '\u000f\u001f"\\/\u2028\u00e9' };
    assert.equal(bindingHash({ ...base, params }), sha(jcs('{"s":"\\u000f\\u001f\\"\\\\/\u2028\u00e9"}')));
    // NFC and NFD are different requests, and the part is named.
    const nfc = { ...base, params: { name: 'caf\u00e9' } };
    const nfd = { ...base, params: { name: 'cafe\u0301' } };
    assert.notEqual(bindingHash(nfc), bindingHash(nfd));
    assert.deepEqual(bindingDifferences(nfc, nfd), ['params.name']);
  });

  it('no shape collides: a value moved between params and purpose, into a nested key, or a number as a string', () => {
    const forms: ApprovalBinding[] = [
      { ...base, purpose: 'a', params: {} },
      { ...base, purpose: '', params: { purpose: 'a' } },
      { ...base, purpose: 'a', params: { x: {} } },
      { ...base, purpose: 'a', params: { x: null } },
      { ...base, purpose: 'a', params: { x: [] } },
      { ...base, purpose: 'a', params: { 'x.y': 1 } },
      { ...base, purpose: 'a', params: { x: { y: 1 } } },
      { ...base, purpose: 'a', params: { amount: 500 } },
      { ...base, purpose: 'a', params: { amount: '500' } },
      { ...base, purpose: 'a","params":{}', params: {} },
      { ...base, ttl_seconds: 30, max_uses: 1 },
      { ...base, ttl_seconds: 3, max_uses: 1 },
      { ...base, agent: 'support-bot', resource: 'stripe/x' },
      { ...base, agent: 'support-bot/stripe', resource: 'x' },
    ];
    assert.equal(new Set(forms.map(bindingHash)).size, forms.length);
    assert.deepEqual(bindingDifferences(forms[7]!, forms[8]!), ['params.amount']);
    assert.deepEqual(bindingDifferences(forms[5]!, forms[6]!), ['params.x', 'params["x.y"]']);
    assert.deepEqual(bindingDifferences(forms[10]!, forms[11]!), ['ttl_seconds']);
  });

  it('a difference names the path only, never the approved or requested value', () => {
    const approved = { ...base, params: { card: 'tok_approved_4242', note: 'secret-ish' } };
    const requested = { ...base, params: { card: 'tok_other_0000', note: 'secret-ish' } };
    const named = bindingDifferences(approved, requested);
    assert.deepEqual(named, ['params.card']);
    assert.ok(!named.join().includes('tok_'));
  });
});
