import { strict as assert } from 'node:assert';
import { chmodSync, copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type TestPki } from '../helpers/broker-harness';

describe('startup checks', function () {
  this.timeout(30_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  });
  after(() => tmp.cleanup());

  it('refuses to start when a key file is group- or world-readable, naming it', async () => {
    const key = path.join(tmp.dir, 'server-open.key');
    copyFileSync(pki.layout.serverKey, key);
    chmodSync(key, 0o644);
    const raw = baseRawConfig(pki, tmp.dir);
    raw['tls'] = { ca: pki.layout.caCert, cert: pki.layout.serverCert, key };
    await assert.rejects(startBroker({ pki, dir: tmp.dir, raw }), (err: Error) => {
      assert.match(err.message, /refusing to start/);
      assert.ok(err.message.includes(key));
      assert.match(err.message, /0644/);
      return true;
    });
    // Dev mode relaxes only this check, loudly.
    const dev = await startBroker({ pki, dir: tmp.dir, raw: { ...raw, dev_mode: true } });
    assert.match(dev.logs.text, /DEV MODE/);
    await dev.close();
  });
});
