import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import { rotationRequestToken } from '../../../../src/backends/aws/aws-rotation';
import type { AwsSecretBackend } from '../../../../src/backends/aws';
import { SecretValue } from '../../../../src/lib/secret-value';
import { sharedMoto, useFakeAwsCredentials } from '../../../helpers/moto-server';
import { openTestBackend, outsideWriter } from './aws-fixture';

describe('AWS rotation steps (real moto_server)', function () {
  this.timeout(60_000);
  let restore: () => void;
  let backend: AwsSecretBackend;
  let outside: ReturnType<typeof outsideWriter>;
  before(async () => {
    restore = useFakeAwsCredentials();
    const moto = await sharedMoto();
    backend = openTestBackend(moto.endpoint);
    outside = outsideWriter(moto.endpoint);
  });
  after(async () => {
    await backend?.close();
    outside?.client.destroy();
    restore?.();
  });
  const labels = async (id: string): Promise<Record<string, string[]>> => {
    const out = await outside.client.send(new ListSecretVersionIdsCommand({ SecretId: id, IncludeDeprecated: true }));
    return Object.fromEntries((out.Versions ?? []).map((v) => [v.VersionId!, [...(v.VersionStages ?? [])].sort()]));
  };

  it('the ClientRequestToken is a UUID (RFC 9562 version 8) fixed by backend, secret and fencing token', () => {
    const t = rotationRequestToken('aws', 'prod/stripe', 7);
    assert.match(t, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(rotationRequestToken('aws', 'prod/stripe', 7), t);
    assert.notEqual(rotationRequestToken('aws', 'prod/stripe', 8), t);
    assert.notEqual(rotationRequestToken('aws', 'prod/other', 7), t);
    assert.notEqual(rotationRequestToken('aws2', 'prod/stripe', 7), t);
  });

  it('createSecret stages AWSPENDING only; a retry with the same token is the same version', async () => {
    const id = `unit-rot/${randomBytes(4).toString('hex')}`;
    const first = await outside.seed(id, 'v1-value');
    const token = rotationRequestToken('aws', id, 1);
    const a = await backend.rotation.createPending(id, token, SecretValue.fromString('v2-value'));
    const b = await backend.rotation.createPending(id, token, SecretValue.fromString('v2-value'));
    assert.equal(a, token);
    assert.equal(b, token);
    assert.deepEqual(await labels(id), { [first]: ['AWSCURRENT'], [token]: ['AWSPENDING'] });
    assert.deepEqual(await backend.rotation.stages(id), { current: first, pending: token });
    assert.equal((await backend.get(id)).value.revealString(), 'v1-value', 'the current value is unchanged');
    // (AWS refuses the same token with another value, ResourceExistsException; moto 5.2 replaces the
    // version's value instead, so that case is not asserted here. A fencing token is used by one run only.)
    const pending = await backend.rotation.readVersion(id, { stage: 'AWSPENDING' });
    assert.deepEqual([pending.versionId, pending.value.revealString()], [token, 'v2-value']);
  });

  it('finishSecret moves AWSCURRENT only from the version read (AWSPREVIOUS follows, AWSPENDING removed), and is idempotent', async () => {
    const id = `unit-rot/${randomBytes(4).toString('hex')}`;
    const first = await outside.seed(id, 'v1-value');
    const token = rotationRequestToken('aws', id, 1);
    await backend.rotation.createPending(id, token, SecretValue.fromString('v2-value'));
    await assert.rejects(backend.rotation.finish(id, token, 'not-the-current-version-id-000000000'), /AWSCURRENT of secret .* moved to another version/);
    assert.deepEqual(await labels(id), { [first]: ['AWSCURRENT'], [token]: ['AWSPENDING'] }, 'a refused finish changes nothing');
    await backend.rotation.finish(id, token, first);
    assert.deepEqual(await labels(id), { [first]: ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] });
    await backend.rotation.finish(id, token, first);
    assert.deepEqual(await labels(id), { [first]: ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] }, 'a repeated finish is a no-op');
    const got = await backend.get(id);
    assert.deepEqual([got.value.revealString(), got.version, got.versionId], ['v2-value', 2, token]);
    assert.equal(await backend.rotation.numberOf(id, first), 1);
  });
});
