import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';

const SECRET = 'hd_tok_Zq8vJ3kW9xPp2LmN7rT4';

describe('CLI: secrets put|list and lease request|show|renew|revoke against the daemon', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let cfgFile: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const raw = baseRawConfig(pki, tmp.dir);
    cfgFile = path.join(tmp.dir, 'config.yaml');
    writeFileSync(cfgFile, stringify(raw));
    // The secret goes in through stdin, twice (two versions).
    for (const v of [SECRET + '-old', SECRET]) {
      const put = await runCapture(['secrets', 'put', 'helpdesk-token', '--config', cfgFile, '--json'], v + '\n');
      assert.equal(put.code, 0, put.err);
    }
    broker = await startBroker({ pki, dir: tmp.dir, raw });
    const a = pki.layout.agents['support-bot']!;
    env = { SECRET_BROKER_ADDR: broker.addr, SECRET_BROKER_CA: pki.layout.caCert, SECRET_BROKER_CERT: a.cert, SECRET_BROKER_KEY: a.key };
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('secrets list shows names and integer versions only', async () => {
    const r = await runCapture(['secrets', 'list', '--config', cfgFile, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), [{ name: 'helpdesk-token', version: 2 }]);
    assert.ok(!r.out.includes(SECRET));
    const human = await runCapture(['secrets', 'list', '--config', cfgFile]);
    assert.match(human.out, /helpdesk-token\tv2/);
  });

  it('secrets put refuses an empty value and a bad name, with one line each', async () => {
    const empty = await runCapture(['secrets', 'put', 'x', '--config', cfgFile], '');
    assert.equal(empty.code, 1);
    assert.equal(empty.err.trim().split('\n').length, 1);
    const bad = await runCapture(['secrets', 'put', '../etc/passwd', '--config', cfgFile], 'v');
    assert.notEqual(bad.code, 0);
  });

  it('lease request grants (exit 0) and denies (exit 3) with an explanation', async () => {
    const ok = await runCapture(['lease', 'request', 'tickets.update', 'ticket/T-1', '--param', 'ticket=T-1', '--json'], '', env);
    assert.equal(ok.code, 0, ok.err);
    const res = JSON.parse(ok.out) as { status: string; lease: { leaseId: string } };
    assert.equal(res.status, 'GRANTED');
    const human = await runCapture(['lease', 'show', res.lease.leaseId], '', env);
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /status ACTIVE/);
    const renew = await runCapture(['lease', 'renew', res.lease.leaseId, '--ttl', '60'], '', env);
    assert.equal(renew.code, 0, renew.err);
    const revoke = await runCapture(['lease', 'revoke', res.lease.leaseId, '--reason', 'done'], '', env);
    assert.equal(revoke.code, 0, revoke.err);
    assert.match(revoke.out, /status REVOKED/);

    const analyst = pki.layout.agents['analyst-bot']!;
    const denied = await runCapture(['lease', 'request', 'tickets.update', 'ticket/T-1', '--param', 'ticket=T-1'], '', { ...env, SECRET_BROKER_CERT: analyst.cert, SECRET_BROKER_KEY: analyst.key });
    assert.equal(denied.code, 3);
    assert.match(denied.out, /candidate tickets-update-support/);
    assert.match(denied.out, /next: /);
  });

  it('lease request --json prints the evidence leaf hash as base64, the one the log holds (finding F8)', async () => {
    const ok = await runCapture(['lease', 'request', 'tickets.update', '--param', 'ticket=T-8', '--json'], '', env);
    assert.equal(ok.code, 0, ok.err);
    const { evidence } = JSON.parse(ok.out) as { evidence: { origin: string; index: string; leafHash: unknown } };
    assert.equal(typeof evidence.leafHash, 'string', ok.out);
    const entry = await broker.app.ledger!.getEntry(Number(evidence.index));
    assert.equal(evidence.leafHash, entry.leafHash.toString('base64'));
  });

  it('lease request takes RESOURCE as optional: the broker renders it, and refuses another one', async () => {
    const ok = await runCapture(['lease', 'request', 'tickets.update', '--param', 'ticket=T-5', '--json'], '', env);
    assert.equal(ok.code, 0, ok.err);
    assert.equal((JSON.parse(ok.out) as { lease: { resource: string } }).lease.resource, 'ticket/T-5');
    const other = await runCapture(['lease', 'request', 'tickets.update', 'ticket/T-6', '--param', 'ticket=T-5'], '', env);
    assert.equal(other.code, 1);
    assert.match(other.err, /resource: is "ticket\/T-6", but this call is on "ticket\/T-5"/);
  });

  it('client commands report missing flags as usage errors, and an unreachable broker in one line', async () => {
    const r = await runCapture(['lease', 'show', 'lease_x'], '', {});
    assert.equal(r.code, 2);
    assert.match(r.err, /--addr/);
    const down = await runCapture(['lease', 'show', 'lease_x'], '', { ...env, SECRET_BROKER_ADDR: '127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.equal(down.err.trim().split('\n').length, 1, down.err);
    const other = await runCapture(['lease', 'show', 'lease_nope'], '', env);
    assert.equal(other.code, 1);
    assert.match(other.err, /NOT_FOUND/);
  });

  it("the secret's bytes never appear in the logs or the SQLite files", async () => {
    await broker.app.store.listLeases({ limit: 1 });
    const forms = [SECRET, Buffer.from(SECRET).toString('base64'), Buffer.from(SECRET).toString('hex')];
    for (const f of readdirSync(tmp.dir).filter((n) => n.startsWith('broker.db') || n === 'secrets.sealed')) {
      const bytes = readFileSync(path.join(tmp.dir, f));
      for (const form of forms) assert.ok(!bytes.includes(form), `${f} contains a form of the secret`);
    }
    // The scan means something only if the log holds the requests made above.
    assert.match(broker.logs.text, /"msg":"lease granted"/);
    assert.match(broker.logs.text, /"msg":"lease denied"/);
    for (const form of forms) assert.ok(!broker.logs.text.includes(form), 'logs');
  });
});
