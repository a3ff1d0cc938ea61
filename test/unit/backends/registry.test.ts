import { strict as assert } from 'node:assert';
import type { SecretVersion, StaticSecretBackend } from '../../../src/backends/backend';
import { BackendRegistry } from '../../../src/backends/registry';
import type { BrokerConfig } from '../../../src/config/config-types';
import { systemClock } from '../../../src/lib/clock';
import { BrokerError } from '../../../src/lib/errors';
import { createLogger } from '../../../src/lib/logger';
import { SecretValue } from '../../../src/lib/secret-value';

/** A store that counts reads and answers after `release()`. */
function slowStore(): { backend: StaticSecretBackend; reads: () => number; release: () => void } {
  let reads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const backend: StaticSecretBackend = {
    kind: 'aws-secrets-manager',
    name: 'aws',
    type: 'static',
    get: async (): Promise<SecretVersion> => {
      reads++;
      await gate;
      return { value: SecretValue.fromString('s3cret-value'), version: 4, versionId: 'v-4' };
    },
    health: async () => undefined,
    close: async () => undefined,
  };
  return { backend, reads: () => reads, release };
}

const config = (cacheTtlMs: number): Pick<BrokerConfig, 'secrets' | 'backends' | 'devMode'> => ({
  devMode: false,
  backends: { aws: { kind: 'aws-secrets-manager', name: 'aws', region: 'eu-west-1', cacheTtlMs, timeoutMs: 5000, breakerFailures: 5, breakerOpenMs: 1000 } },
  secrets: { key: { name: 'key', backend: 'aws', ref: 'prod/key' } },
});

describe('BackendRegistry', () => {
  for (const ttl of [0, 30_000]) {
    it(`concurrent cold reads of one secret are one store read; each caller gets its own copy to wipe (cache_ttl ${ttl} ms)`, async () => {
      const store = slowStore();
      const reg = new BackendRegistry({
        config: config(ttl),
        clock: systemClock,
        log: createLogger({ level: 'silent' }),
        factories: { aws: () => ({ static: store.backend, health: async () => undefined, close: async () => undefined }) },
      });
      const all = Promise.all(Array.from({ length: 20 }, () => reg.resolve('key')));
      await new Promise((r) => setTimeout(r, 20));
      store.release();
      const got = await all;
      assert.equal(store.reads(), 1);
      assert.ok(got.every((g) => g.value.revealString() === 's3cret-value' && g.version === 4 && g.versionId === 'v-4' && g.backend === 'aws'));
      got[0]!.value.wipe();
      assert.equal(got[1]!.value.revealString(), 's3cret-value', 'copies, not one shared value');
      // Later reads: from the cache when on, from the store again when off.
      await new Promise((r) => setImmediate(r));
      assert.equal((await reg.resolve('key')).value.revealString(), 's3cret-value');
      assert.equal(store.reads(), ttl > 0 ? 1 : 2);
      await reg.close();
    });
  }

  it('invalidate during a store read: that read is not cached, and the next resolve reads the store again', async () => {
    let reads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const store: StaticSecretBackend = {
      kind: 'aws-secrets-manager',
      name: 'aws',
      type: 'static',
      get: async (): Promise<SecretVersion> => {
        reads++;
        if (reads === 1) {
          await gate;
          return { value: SecretValue.fromString('old-value'), version: 1 };
        }
        return { value: SecretValue.fromString('new-value'), version: 2 };
      },
      health: async () => undefined,
      close: async () => undefined,
    };
    const reg = new BackendRegistry({
      config: config(30_000),
      clock: systemClock,
      log: createLogger({ level: 'silent' }),
      factories: { aws: () => ({ static: store, health: async () => undefined, close: async () => undefined }) },
    });
    const before = reg.resolve('key');
    await new Promise((r) => setTimeout(r, 20));
    reg.invalidate('key'); // the secret was rotated while the read was on its way
    const after = reg.resolve('key');
    release();
    assert.equal((await before).value.revealString(), 'old-value');
    assert.equal((await after).value.revealString(), 'new-value', 'a resolve after invalidate does not join the older read');
    assert.equal((await reg.resolve('key')).version, 2, 'the older read did not land in the cache');
    assert.equal(reads, 2);
    await reg.close();
  });

  it('serves postgres actions: the spec from config, plan without I/O, listIssued and revokeMany offered; the admin URL read from its static backend and never in an error', async () => {
    let reads = 0;
    const url = 'postgres://admin:adm1n-pa55@127.0.0.1:1/app';
    const store: StaticSecretBackend = {
      kind: 'aws-secrets-manager',
      name: 'aws',
      type: 'static',
      get: async (name): Promise<SecretVersion> => {
        assert.equal(name, 'prod/appdb-admin');
        reads++;
        return { value: SecretValue.fromString(url), version: 1 };
      },
      health: async () => undefined,
      close: async () => undefined,
    };
    const grants = [{ privilege: 'SELECT' as const, schema: 'analytics' }];
    const cfg: Pick<BrokerConfig, 'secrets' | 'backends' | 'devMode'> = {
      devMode: false,
      backends: {
        aws: { kind: 'aws-secrets-manager', name: 'aws', region: 'eu-west-1', cacheTtlMs: 0, timeoutMs: 5000, breakerFailures: 5, breakerOpenMs: 1000 },
        appdb: { kind: 'postgres', name: 'appdb', urlSecret: { backend: 'aws', name: 'prod/appdb-admin' }, rolePrefix: 'sbt_', cacheTtlMs: 0, timeoutMs: 500, breakerFailures: 5, breakerOpenMs: 1000 },
      },
      secrets: {},
    };
    const reg = new BackendRegistry({
      config: cfg,
      clock: systemClock,
      log: createLogger({ level: 'silent' }),
      factories: { aws: () => ({ static: store, health: async () => undefined, close: async () => undefined }) },
    });
    const action = { name: 'analytics.query', postgres: { backend: 'appdb', grants, ttlMs: 300_000, connectionLimit: 4, statementTimeoutMs: 9_000 }, defaultTtlMs: 300_000, maxTtlMs: 900_000, defaultUses: 1, maxUses: 1, resource: { source: 'a', parts: [] }, contextFields: [] };
    const source = reg.credentialSource({ [action.name]: action });
    const got = source.forAction(action)!;
    assert.equal(got.backend.kind, 'postgres');
    assert.deepEqual(got.spec, { grants, connectionLimit: 4, statementTimeoutMs: 9_000 });
    const lease = { leaseId: 'l', agent: 'a', action: action.name, resource: 'a', expiresAt: Date.now() + 60_000, maxExpiresAt: Date.now() + 120_000 };
    const h = got.backend.plan!(got.spec, lease);
    assert.equal(h.backend, 'appdb');
    assert.match(h.id, /^sbt_[0-9a-f]{32}$/);
    assert.notEqual(got.backend.plan!(got.spec, lease).id, h.id);
    assert.equal(reads, 0, 'planning touches nothing');
    assert.equal(typeof got.backend.listIssued, 'function');
    assert.equal(typeof got.backend.revokeMany, 'function');
    assert.equal(source.byName('appdb'), got.backend);
    // Nothing listens on port 1: the admin URL was read, the connection refused, and the error names neither.
    const err = await got.backend.create(got.spec, lease, h).then(() => undefined, (e: unknown) => e as Error);
    assert.ok(err instanceof BrokerError && err.kind === 'unavailable', String(err));
    assert.ok(reads >= 1, 'the admin URL came from the static backend');
    for (let e: unknown = err; e instanceof Error; e = e.cause) {
      assert.doesNotMatch(e.message, /adm1n-pa55|postgres:\/\//, 'no admin URL in any error of the chain');
    }
    await reg.close();
  });
});
