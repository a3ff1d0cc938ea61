import { SecretValue } from '../../src/lib/secret-value';
import { makeFixture } from '../unit/backends/local/local-fixture';
import { secretBackendContract } from './secret-backend-contract';

// The local sealed store: the outside writer is a second backend object over the same file
// (as `secret-broker secrets put` from another process would be), so reads see what the file holds.
secretBackendContract('local', async () => {
  const fx = await makeFixture();
  const backend = await fx.open();
  const writer = await fx.open();
  return {
    backend,
    fields: false,
    versionIds: false,
    seed: async (name, value) => {
      await writer.put(name, SecretValue.fromString(value));
    },
    cleanup: () => fx.cleanup(),
  };
});
