import { strict as assert } from 'node:assert';
import { BrokerError } from '../../../src/lib/errors';
import { SecretValue } from '../../../src/lib/secret-value';
import { authHeader } from '../../../src/brokered-http/auth-injection';

describe('brokered-http credential injection', () => {
  it('builds bearer, basic and named-header credentials', () => {
    const s = SecretValue.fromString('p@ss:w/rd');
    assert.deepEqual(authHeader({ kind: 'bearer', secret: 'n' }, s), ['authorization', 'Bearer p@ss:w/rd']);
    assert.deepEqual(authHeader({ kind: 'basic', username: 'svc', secret: 'n' }, s), ['authorization', `Basic ${Buffer.from('svc:p@ss:w/rd').toString('base64')}`]);
    assert.deepEqual(authHeader({ kind: 'header', header: 'X-Api-Key', prefix: 'Token ', secret: 'n' }, s), ['x-api-key', 'Token p@ss:w/rd']);
  });

  it('base64-encodes any bytes for basic auth', () => {
    const s = SecretValue.fromBytes(Buffer.from([0x00, 0x0a, 0xff]));
    assert.equal(authHeader({ kind: 'basic', username: 'u', secret: 'n' }, s)[1], `Basic ${Buffer.from([0x75, 0x3a, 0x00, 0x0a, 0xff]).toString('base64')}`);
  });

  it('refuses a secret that would break out of the header, without printing it', () => {
    for (const bad of ['abc\r\nX-Evil: 1', 'abc\n', 'tab\there', 'clé', ' padded', '']) {
      assert.throws(
        () => authHeader({ kind: 'bearer', secret: 'helpdesk-token' }, SecretValue.fromString(bad)),
        (e: unknown) => e instanceof BrokerError && e.kind === 'internal' && /helpdesk-token/.test(e.message) && (bad === '' || !e.message.includes(bad)),
        JSON.stringify(bad),
      );
    }
  });
});
