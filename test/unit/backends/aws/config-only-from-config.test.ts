import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretValue } from '../../../../src/lib/secret-value';
import { createTestCa } from '../../../helpers/test-ca';
import { setEnv, sharedMoto, startMotoServer, useFakeAwsCredentials, type MotoServer } from '../../../helpers/moto-server';
import { expectBrokerError } from '../local/local-fixture';
import { openTestBackend, outsideWriter, REGION } from './aws-fixture';

/**
 * Issue 11 item 4: configuration only from config. The SDK (and Node) would
 * take an endpoint, a region, FIPS/dual-stack endpoints, a proxy or "skip TLS
 * checks" from the environment; the backend must take none of them. Each test
 * sets the variable in process.env, shows the backend still does what its
 * config says, and restores the environment.
 */

/** A listener that must receive nothing: it counts connections and drops them. */
async function trap(): Promise<{ url: string; hostPort: string; connections(): number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const srv: Server = createServer((s) => {
    count++;
    sockets.add(s);
    s.destroy();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    connections: () => count,
    close: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

const fresh = (): string => `env/${randomBytes(6).toString('hex')}`;

describe('aws backend: configuration only from config (environment changes nothing)', function () {
  this.timeout(60_000);
  let moto: MotoServer;
  let restoreCreds: () => void;
  let t: Awaited<ReturnType<typeof trap>>;
  before(async () => {
    restoreCreds = useFakeAwsCredentials();
    moto = await sharedMoto();
  });
  after(() => restoreCreds());
  beforeEach(async () => {
    t = await trap();
  });
  afterEach(() => t.close());

  it('AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SECRETS_MANAGER and a config file endpoint_url do not replace the configured endpoint', async () => {
    const name = fresh();
    await outsideWriter(moto.endpoint).seed(name, 'from-moto');
    const dir = await fs.mkdtemp(join(tmpdir(), 'sb-aws-env-'));
    const configFile = join(dir, 'config');
    await fs.writeFile(configFile, `[default]\nendpoint_url = ${t.url}\nregion = eu-north-1\n[services trap]\nsecretsmanager =\n  endpoint_url = ${t.url}\n`);
    const restore = setEnv({ AWS_ENDPOINT_URL: t.url, AWS_ENDPOINT_URL_SECRETS_MANAGER: t.url, AWS_CONFIG_FILE: configFile });
    try {
      const b = openTestBackend(moto.endpoint);
      assert.equal((await b.get(name)).value.revealString(), 'from-moto');
      await b.close();
      assert.equal(t.connections(), 0, 'the endpoint from the environment was used');
    } finally {
      restore();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('with no endpoint in config, AWS_ENDPOINT_URL* still does not become the endpoint (the SDK default applies)', async () => {
    const restore = setEnv({ AWS_ENDPOINT_URL: t.url, AWS_ENDPOINT_URL_SECRETS_MANAGER: t.url });
    try {
      const b = openTestBackend(undefined, { timeoutMs: 1500 });
      // There is no AWS from here: the call fails, but it must not have gone to the trap.
      const err = await b.get('prod/stripe').then(
        () => undefined,
        (e: unknown) => e,
      );
      await b.close();
      assert.equal(t.connections(), 0, 'the endpoint from the environment was used');
      assert.ok(err === undefined || (err as { kind?: string }).kind !== undefined, 'any failure is a BrokerError');
    } finally {
      restore();
    }
  });

  it('AWS_REGION and AWS_DEFAULT_REGION do not replace the configured region', async () => {
    const name = fresh();
    await outsideWriter(moto.endpoint, REGION).seed(name, 'in-configured-region');
    const restore = setEnv({ AWS_REGION: 'eu-north-1', AWS_DEFAULT_REGION: 'eu-north-1' });
    try {
      const b = openTestBackend(moto.endpoint);
      // moto keeps one store per region: a request signed for eu-north-1 would not find it.
      assert.equal((await b.get(name)).value.revealString(), 'in-configured-region');
      await b.close();
    } finally {
      restore();
    }
  });

  it('AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT do not change the endpoint', async () => {
    const name = fresh();
    await outsideWriter(moto.endpoint).seed(name, 'plain-endpoint');
    const restore = setEnv({ AWS_USE_FIPS_ENDPOINT: 'true', AWS_USE_DUALSTACK_ENDPOINT: 'true' });
    try {
      const b = openTestBackend(moto.endpoint);
      assert.equal((await b.get(name)).value.revealString(), 'plain-endpoint');
      await b.close();
    } finally {
      restore();
    }
  });

  it('proxy variables (any case) are ignored', async () => {
    const name = fresh();
    await outsideWriter(moto.endpoint).seed(name, 'no-proxy');
    const vars: Record<string, string> = {};
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) {
      vars[k] = t.url;
      vars[k.toLowerCase()] = t.url;
    }
    vars.NO_PROXY = 'example.invalid';
    vars.no_proxy = 'example.invalid';
    const restore = setEnv(vars);
    try {
      const b = openTestBackend(moto.endpoint);
      assert.equal((await b.get(name)).value.revealString(), 'no-proxy');
      await b.close();
      assert.equal(t.connections(), 0, 'a request went through the proxy from the environment');
    } finally {
      restore();
    }
  });

  describe('TLS is always verified', () => {
    let tlsMoto: MotoServer;
    let dir: string;
    let caFile: string;
    before(async () => {
      dir = await fs.mkdtemp(join(tmpdir(), 'sb-aws-tls-'));
      const ca = await createTestCa('aws endpoint test CA');
      const leaf = await ca.issue({ commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
      caFile = join(dir, 'ca.pem');
      await fs.writeFile(caFile, ca.certPem);
      await fs.writeFile(join(dir, 'server.pem'), leaf.chainPem);
      await fs.writeFile(join(dir, 'server.key'), leaf.keyPem, { mode: 0o600 });
      tlsMoto = await startMotoServer({ tls: { certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key'), caPem: ca.certPem } });
    });
    after(async () => {
      await tlsMoto?.close();
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('ca_file adds the endpoint\'s CA: a verified HTTPS endpoint works, put and get', async () => {
      const b = openTestBackend(tlsMoto.endpoint, { caFile });
      const name = fresh();
      await b.put(name, SecretValue.fromString('over-tls'));
      assert.equal((await b.get(name)).value.revealString(), 'over-tls');
      await b.close();
    });

    it('without ca_file the unknown CA is refused (failed_precondition), even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
      const restore = setEnv({ NODE_TLS_REJECT_UNAUTHORIZED: '0' });
      try {
        const b = openTestBackend(tlsMoto.endpoint);
        await expectBrokerError(b.get('anything'), 'failed_precondition', /TLS certificate did not verify/);
        await expectBrokerError(b.health(), 'failed_precondition');
        await b.close();
      } finally {
        restore();
      }
    });

    it('an unreadable ca_file fails at open with an error naming the setting', async () => {
      assert.throws(
        () => openTestBackend(tlsMoto.endpoint, { caFile: join(dir, 'missing.pem') }),
        (e: { kind?: string; message?: string }) => e.kind === 'failed_precondition' && /^backends\.aws\.ca_file: cannot read /.test(e.message ?? ''),
      );
    });
  });
});
