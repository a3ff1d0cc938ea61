import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { bindingDifferences, bindingHash, type ApprovalBinding } from '../../../src/approvals/approval-binding';

const b: ApprovalBinding = {
  agent: 'support-bot',
  action: 'billing.refund',
  resource: 'stripe',
  params: { note: 'é', amount: 50000 },
  purpose: 'refund',
  ttl_seconds: 300,
  max_uses: 1,
  rule: 'billing-refund-approved',
  policy_version: 'v1',
};

describe('approval binding', () => {
  it('hashes the RFC 8785 form: keys sorted at every level, no whitespace, UTF-8', () => {
    const jcs = '{"action":"billing.refund","agent":"support-bot","max_uses":1,"params":{"amount":50000,"note":"é"},"policy_version":"v1","purpose":"refund","resource":"stripe","rule":"billing-refund-approved","ttl_seconds":300}';
    assert.equal(bindingHash(b), createHash('sha256').update(Buffer.from(jcs, 'utf8')).digest('hex'));
    // Only the binding's own parts are hashed: an input object carrying more hashes the same.
    assert.equal(bindingHash({ ...b, extra: 'ignored' } as ApprovalBinding), bindingHash(b));
    assert.equal(bindingHash({ ...b, params: { amount: 50000, note: 'é' } }), bindingHash(b), 'key order does not matter');
  });

  it('names nested params, keys on one side only, and stops at ten', () => {
    assert.deepEqual(bindingDifferences(b, b), []);
    assert.deepEqual(bindingDifferences({ ...b, params: { a: { b: 1 } } }, { ...b, params: { a: { b: 2 } } }), ['params.a.b']);
    assert.deepEqual(bindingDifferences({ ...b, params: { a: [1, 2] } }, { ...b, params: { a: [2, 1] } }), ['params.a']);
    assert.deepEqual(bindingDifferences({ ...b, params: { x: null } }, { ...b, params: {} }), ['params.x']);
    assert.deepEqual(bindingDifferences(b, { ...b, params: 'x' as unknown as ApprovalBinding['params'] }), ['params']);
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]));
    assert.equal(bindingDifferences({ ...b, params: {} }, { ...b, params: many }).length, 10);
  });
});
