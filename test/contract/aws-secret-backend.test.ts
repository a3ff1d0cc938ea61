import { sharedMoto, useFakeAwsCredentials, type MotoServer } from '../helpers/moto-server';
import { openTestBackend, outsideWriter } from '../unit/backends/aws/aws-fixture';
import { secretBackendContract } from './secret-backend-contract';

// AWS Secrets Manager on a real moto_server (one per mocha process). The outside writer is the
// AWS SDK itself, so versions it writes carry AWS's own UUID VersionIds and no broker number.
describe('aws-secrets-manager on moto_server', function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let restoreEnv: () => void;
  before(async () => {
    restoreEnv = useFakeAwsCredentials();
    moto = await sharedMoto();
  });
  after(() => restoreEnv());

  secretBackendContract('aws-secrets-manager', async () => {
    const backend = openTestBackend(moto.endpoint);
    const writer = outsideWriter(moto.endpoint);
    return {
      backend,
      fields: true,
      versionIds: true,
      seed: async (name, value, opts) => {
        await writer.seed(name, value, opts);
      },
      cleanup: async () => {
        await backend.close();
        writer.client.destroy();
      },
    };
  });
});
