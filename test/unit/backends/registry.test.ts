import { strict as assert } from 'node:assert';
import type { SecretVersion, StaticSecretBackend } from '../../../src/backends/backend';
import { BackendRegistry } from '../../../src/backends/registry';
import type { BrokerConfig } from '../../../src/config/config-types';
import { systemClock } from '../../../src/lib/clock';
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
});
