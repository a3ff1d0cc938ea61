import { strict as assert } from 'node:assert';
import { BrokerError } from '../../../../src/lib/errors';
import { toBrokerError, VaultHttpError } from '../../../../src/backends/vault/vault-errors';
import { assertKvName, assertRole, encodePath } from '../../../../src/backends/vault/vault-paths';
import { VaultTransportError } from '../../../../src/backends/vault/vault-transport';

describe('vault backend: error mapping and names (pure parts)', () => {
  const ctx = { backend: 'vault-prod', subject: 'secret "app/stripe"', verb: 'read' };
  const vaultText = 'permission denied on path secret/data/app/stripe for policy xyz';

  const cases: Array<[number, string]> = [
    [404, 'not_found'],
    [403, 'failed_precondition'],
    [400, 'failed_precondition'],
    [429, 'unavailable'],
    [500, 'unavailable'],
    [502, 'unavailable'],
    [503, 'unavailable'],
    [307, 'unavailable'],
  ];
  for (const [status, kind] of cases) {
    it(`Vault ${status} → ${kind}, with Vault's text only in cause`, () => {
      const err = toBrokerError(new VaultHttpError(status, [vaultText]), ctx);
      assert.ok(err instanceof BrokerError);
      assert.equal(err.kind, kind);
      assert.match(err.message, /vault-prod/);
      assert.doesNotMatch(err.message, /permission denied|policy xyz/);
      assert.match(String((err.cause as Error).message), /policy xyz/);
    });
  }

  it('a transport failure (refused, timeout, TLS) → unavailable, no transport text in message', () => {
    const err = toBrokerError(new VaultTransportError('connect ECONNREFUSED 127.0.0.1:8200', 'ECONNREFUSED'), ctx);
    assert.equal(err.kind, 'unavailable');
    assert.equal(err.message, 'backend "vault-prod" (vault) is unavailable');
  });

  it('names that could leave the mount or add a query are refused', () => {
    for (const bad of ['../sys/seal', 'app/../../x', 'a/./b', 'a?b=1', 'a#b', '/abs', 'a//b', 'a/', '', 'sp ace', 'a%2fb']) {
      assert.throws(() => assertKvName(bad), (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument' && /name:/.test(e.message), bad);
    }
    for (const good of ['app/stripe', 'a.b-c_d/E1', 'x']) assert.doesNotThrow(() => assertKvName(good));
    assert.equal(encodePath('app/stripe.key'), 'app/stripe.key');
    assert.throws(() => assertRole('a/b'), /role:/);
    assert.throws(() => assertRole('..'), /role:/);
  });
});
