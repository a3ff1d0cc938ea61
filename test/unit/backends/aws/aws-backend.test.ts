import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  DeleteSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { BrokerError } from '../../../../src/lib/errors';
import { SecretValue } from '../../../../src/lib/secret-value';
import { setEnv, sharedMoto, startMotoServer, useFakeAwsCredentials, type MotoServer } from '../../../helpers/moto-server';
import { assertNoLeak, expectBrokerError, uniqueSecret } from '../local/local-fixture';
import { capturedLog, openTestBackend, outsideWriter } from './aws-fixture';
import { startFaultProxy, type FaultProxy } from './fault-proxy';

const fresh = (): string => `unit/${randomBytes(6).toString('hex')}`;

async function failure(p: Promise<unknown>): Promise<BrokerError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BrokerError, `expected a BrokerError, got ${inspect(err)}`);
    return err;
  }
  throw new Error('expected a failure');
}

describe('aws backend (real moto_server)', function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let restoreCreds: () => void;
  before(async () => {
    restoreCreds = useFakeAwsCredentials();
    moto = await sharedMoto();
  });
  after(() => restoreCreds());

  describe('values, fields and versions', () => {
    it('reads AWSCURRENT by naming the stage: a version moved to AWSCURRENT by UpdateSecretVersionStage is the one returned', async () => {
      // moto's unnamed default does not follow UpdateSecretVersionStage (DESIGN.md, moto quirks).
      const name = fresh();
      const w = outsideWriter(moto.endpoint);
      const first = await w.seed(name, 'stage-old');
      const next = await w.client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'stage-new', VersionStages: ['AWSPENDING'] }));
      await w.client.send(
        new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: next.VersionId!, RemoveFromVersionId: first }),
      );
      await w.client.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSPENDING', RemoveFromVersionId: next.VersionId! }));
      const b = openTestBackend(moto.endpoint);
      const got = await b.get(name);
      assert.equal(got.value.revealString(), 'stage-new');
      assert.equal(got.versionId, next.VersionId);
      assert.equal(got.version, 2);
      assert.equal((await b.get(name, { version: 1 })).value.revealString(), 'stage-old');
      await b.close();
      w.client.destroy();
    });

    it('put writes VersionId sb-v<N>-<hex> (the number survives without labels) and moves AWSCURRENT/AWSPREVIOUS as AWS does', async () => {
      const name = fresh();
      const b = openTestBackend(moto.endpoint);
      const r1 = await b.put(name, SecretValue.fromString('p1'));
      const r2 = await b.put(name, SecretValue.fromString('p2'));
      assert.match(r1.versionId!, /^sb-v1-[0-9a-f]{32}$/);
      assert.match(r2.versionId!, /^sb-v2-[0-9a-f]{32}$/);
      const w = outsideWriter(moto.endpoint);
      const listed = await w.client.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
      const stages = Object.fromEntries((listed.Versions ?? []).map((v) => [v.VersionId, v.VersionStages]));
      assert.deepEqual(stages, { [r1.versionId!]: ['AWSPREVIOUS'], [r2.versionId!]: ['AWSCURRENT'] });
      const raw = await w.client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
      assert.equal(raw.SecretString, 'p2');
      await b.close();
      w.client.destroy();
    });

    it('numbers versions written outside the broker among its own: broker 1, outside 2, broker 3', async () => {
      const name = fresh();
      const b = openTestBackend(moto.endpoint);
      const w = outsideWriter(moto.endpoint);
      assert.equal((await b.put(name, SecretValue.fromString('broker-1'))).version, 1);
      const outsideId = await w.seed(name, 'outside-2');
      const cur = await b.get(name);
      assert.deepEqual([cur.version, cur.versionId, cur.value.revealString()], [2, outsideId, 'outside-2']);
      assert.equal((await b.put(name, SecretValue.fromString('broker-3'))).version, 3);
      assert.equal((await b.get(name, { version: 2 })).value.revealString(), 'outside-2');
      assert.equal((await b.get(name, { version: 1 })).value.revealString(), 'broker-1');
      assert.deepEqual((await b.list()).filter((r) => r.name === name).map((r) => r.version), [3]);
      await b.close();
      w.client.destroy();
    });

    it('binary values: SecretBinary is opaque bytes both ways; a field on it is invalid_argument', async () => {
      const name = fresh();
      const bytes = Uint8Array.from([0, 255, 1, 0xc3, 0x28, 10]);
      const w = outsideWriter(moto.endpoint);
      await w.seed(name, bytes);
      const b = openTestBackend(moto.endpoint);
      assert.ok((await b.get(name)).value.reveal().equals(Buffer.from(bytes)));
      await expectBrokerError(b.get(name, { field: 'k' }), 'invalid_argument', new RegExp(`^field: secret "${name}" in backend "aws" holds binary data`));
      // put: bytes that are not UTF-8 go to SecretBinary, text to SecretString
      await b.put(name, SecretValue.fromBytes(Buffer.from([0xff, 0xfe, 0])));
      const raw = await w.client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
      assert.equal(raw.SecretString, undefined);
      assert.deepEqual([...raw.SecretBinary!], [0xff, 0xfe, 0]);
      await b.put(name, SecretValue.fromString('text ✓'));
      const raw2 = await w.client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
      assert.equal(raw2.SecretString, 'text ✓');
      await b.close();
      w.client.destroy();
    });

    it('field is strict: not JSON, a JSON array, or a non-string value is failed_precondition naming field and secret, never the value', async () => {
      const b = openTestBackend(moto.endpoint);
      const w = outsideWriter(moto.endpoint);
      const plain = uniqueSecret();
      const cases: Array<[string, RegExp]> = [
        [plain, /is not a JSON object/],
        [`{"api_key": "${plain}"`, /is not a JSON object/], // truncated JSON: V8's parse error would quote it
        [JSON.stringify([plain]), /is not a JSON object/],
        [JSON.stringify({ api_key: 42, other: plain }), /field "api_key" of secret ".*" in backend "aws" is not a string/],
      ];
      for (const [stored, re] of cases) {
        const name = fresh();
        await w.seed(name, stored);
        const err = await expectBrokerError(b.get(name, { field: 'api_key' }), 'failed_precondition', re);
        assert.ok(err.message.includes(`"api_key"`) && err.message.includes(name), err.message);
        assertNoLeak(inspect(err, { depth: 10, showHidden: true }), plain, 'field error');
        assert.equal(err.cause, undefined, 'no parser error rides along');
      }
      await b.close();
      w.client.destroy();
    });

    it('bad input is invalid_argument naming the field, without echoing the name', async () => {
      const b = openTestBackend(moto.endpoint);
      const plain = uniqueSecret();
      for (const bad of ['', `has space ${plain}`, `semi;${plain}`, 'x'.repeat(2049)]) {
        const err = await expectBrokerError(b.get(bad), 'invalid_argument', /^name: must be a secret name or ARN/);
        assert.ok(!err.message.includes(plain));
      }
      await expectBrokerError(b.put('arn:aws:secretsmanager:us-east-1:1:secret:x', SecretValue.fromString('v')), 'invalid_argument', /^name: must be 1 to 512/);
      await expectBrokerError(b.put('big', SecretValue.fromBytes(Buffer.alloc(65_537, 1))), 'invalid_argument', /^value: must be at most 65536 bytes$/);
      await expectBrokerError(b.get('x', { field: '' }), 'invalid_argument', /^field: /);
      await b.close();
    });
  });

  describe('errors', () => {
    let proxy: FaultProxy;
    beforeEach(async () => {
      proxy = await startFaultProxy(moto.endpoint);
    });
    afterEach(() => proxy.close());

    it('a deleted secret is failed_precondition; an unknown one not_found; messages are ours, AWS text only in the cause', async () => {
      const name = fresh();
      const w = outsideWriter(moto.endpoint);
      await w.seed(name, 'soon-deleted');
      await w.client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
      const { log, text } = capturedLog();
      const b = openTestBackend(moto.endpoint, {}, log);
      const err = await expectBrokerError(b.get(name), 'failed_precondition', new RegExp(`^backend "aws" \\(aws-secrets-manager\\): the broker cannot read secret "${name}" \\(the secret is deleted`));
      assert.match(String((err.cause as Error).message), /InvalidRequestException/);
      assert.match(text(), /InvalidRequestException/, 'the log has the detail');
      const nf = await expectBrokerError(b.get(fresh()), 'not_found', /^secret "unit\/[0-9a-f]+" in backend "aws" not found$/);
      assert.ok(!nf.message.includes("can't find"), 'no AWS text in the message');
      await b.close();
      w.client.destroy();
    });

    it('AccessDenied and DecryptionFailure are failed_precondition at once (not retried)', async () => {
      const b = openTestBackend(proxy.endpoint);
      for (const [type, reason] of [
        ['AccessDeniedException', /\(access denied\)$/],
        ['DecryptionFailure', /KMS key cannot decrypt it\)$/],
      ] as const) {
        proxy.seen.length = 0;
        proxy.fault = () => ({ status: 400, type, message: 'User arn:aws:iam::1:user/x is not authorized' });
        const err = await expectBrokerError(b.get('prod/stripe'), 'failed_precondition', reason);
        assert.ok(!err.message.includes('arn:aws:iam'), 'AWS text stays in the cause');
        assert.equal(proxy.seen.length, 1, `${type} was retried`);
      }
      await b.close();
    });

    it('retries throttling with backoff and succeeds, whatever AWS_MAX_ATTEMPTS / AWS_RETRY_MODE say', async () => {
      const name = fresh();
      await outsideWriter(moto.endpoint).seed(name, 'after-throttling');
      const restore = setEnv({ AWS_MAX_ATTEMPTS: '1', AWS_RETRY_MODE: 'legacy' });
      try {
        const b = openTestBackend(proxy.endpoint);
        proxy.fault = (op, seq) => (op === 'GetSecretValue' && seq <= 2 ? { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' } : undefined);
        assert.equal((await b.get(name)).value.revealString(), 'after-throttling');
        const gets = proxy.seen.filter((s) => s.operation === 'GetSecretValue');
        assert.equal(gets.length, 3);
        assert.ok(gets[1]!.at - gets[0]!.at >= 1 && gets[2]!.at - gets[1]!.at >= 1, 'no backoff between attempts');
        await b.close();
      } finally {
        restore();
      }
    });

    it('throttling that persists, and 5xx, end as unavailable after the bounded retries, within timeoutMs', async () => {
      const b = openTestBackend(proxy.endpoint, { timeoutMs: 4000 });
      for (const [fault, reason] of [
        [{ status: 400, type: 'ThrottlingException', message: 'Rate exceeded' }, /\(throttled\)$/],
        [{ status: 500, type: 'InternalServiceError', message: 'boom' }, /\(AWS answered with a server error\)$/],
        [{ status: 503, type: 'ServiceUnavailable', message: 'boom' }, /\(AWS answered with a server error\)$/],
      ] as const) {
        proxy.seen.length = 0;
        proxy.fault = () => fault;
        const t0 = Date.now();
        const err = await expectBrokerError(b.get('prod/stripe'), 'unavailable', reason);
        assert.ok(Date.now() - t0 < 4000, 'exceeded timeoutMs');
        assert.equal(proxy.seen.length, 3, `${fault.type}: 3 attempts`);
        assert.ok(!/Rate exceeded|boom/.test(err.message));
      }
      await b.close();
    });

    it('a store that hangs: unavailable when timeoutMs passes, retries included', async () => {
      const b = openTestBackend(proxy.endpoint, { timeoutMs: 600 });
      proxy.fault = () => ({ status: 0, type: 'hang', hang: true });
      const t0 = Date.now();
      await expectBrokerError(b.get('prod/stripe'), 'unavailable', /timed out/);
      const took = Date.now() - t0;
      assert.ok(took >= 550 && took < 1500, `took ${took} ms`);
      await b.close();
    });

    it('no credentials in the default chain: failed_precondition, not a hang', async () => {
      const restore = setEnv({
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
        AWS_CONFIG_FILE: '/nonexistent/config',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
        AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
      });
      try {
        const b = openTestBackend(proxy.endpoint, { timeoutMs: 3000 });
        await expectBrokerError(b.get('prod/stripe'), 'failed_precondition', /\(no AWS credentials could be found\)$/);
        assert.equal(proxy.seen.length, 0);
        await b.close();
      } finally {
        restore();
      }
    });

    it('health: passes on moto, passes when listing is denied (the credentials were accepted), fails when unreachable', async () => {
      const b = openTestBackend(proxy.endpoint, { timeoutMs: 2000 });
      await b.health();
      proxy.fault = () => ({ status: 400, type: 'AccessDeniedException' });
      await b.health();
      proxy.fault = () => ({ status: 400, type: 'UnrecognizedClientException' });
      await expectBrokerError(b.health(), 'failed_precondition');
      await proxy.close();
      await expectBrokerError(b.health(), 'unavailable');
      await b.close();
    });
  });

  describe('outage: moto_server stops and comes back', () => {
    let own: MotoServer;
    before(async () => {
      own = await startMotoServer();
    });
    after(() => own.close());

    it('a stopped store is unavailable fast (well within timeoutMs); the same backend object works again when it returns', async () => {
      const timeoutMs = 3000;
      const b = openTestBackend(own.endpoint, { timeoutMs });
      await b.put('outage/token', SecretValue.fromString('before'));
      assert.equal((await b.get('outage/token')).value.revealString(), 'before');
      await own.stop();
      for (const call of [() => b.get('outage/token'), () => b.list(), () => b.health(), () => b.put('outage/token', SecretValue.fromString('x'))]) {
        const t0 = Date.now();
        const err = await failure(call());
        assert.equal(err.kind, 'unavailable', err.message);
        assert.match(err.message, /\(unreachable\)$/);
        assert.ok(Date.now() - t0 < timeoutMs, `took ${Date.now() - t0} ms`);
      }
      await own.start();
      // moto keeps nothing across a restart: write again through the same object.
      assert.equal((await b.put('outage/token', SecretValue.fromString('after'))).version, 1);
      assert.equal((await b.get('outage/token')).value.revealString(), 'after');
      await b.close();
    });
  });
});
