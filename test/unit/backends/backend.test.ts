import { strict as assert } from 'node:assert';
import { SecretValue } from '../../../src/lib/secret-value';
import { canList, canPut, type StaticSecretBackend } from '../../../src/backends/backend';

describe('backend contracts', () => {
  const readOnly: StaticSecretBackend = {
    kind: 'vault',
    type: 'static',
    name: 'ro',
    get: async () => ({ value: SecretValue.fromString('x'), version: 1 }),
    health: async () => undefined,
    close: async () => undefined,
  };

  it('canPut / canList tell optional capabilities apart', () => {
    assert.equal(canPut(readOnly), false);
    assert.equal(canList(readOnly), false);
    const rw: StaticSecretBackend = { ...readOnly, put: async () => ({ version: 2 }), list: async () => [] };
    assert.equal(canPut(rw), true);
    assert.equal(canList(rw), true);
  });
});
