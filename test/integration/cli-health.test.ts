import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO, baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';

/** The real CLI in its own process, as a container's HEALTHCHECK runs it (async: the daemon runs in this process). */
function cliProcess(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['-r', 'reflect-metadata', '-r', 'tsx/cjs', path.join(REPO, 'src/main.ts'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 30_000 }, (_err, stdout, stderr) =>
      resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

describe('secret-broker health (against the real daemon)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let healthAddr: string;
  let stopped = false;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(tmp.dir);
    broker = await startBroker({ pki, dir: tmp.dir, raw: baseRawConfig(pki, tmp.dir, { health_listen: '127.0.0.1:0' }) });
    healthAddr = `127.0.0.1:${broker.app.healthPort!}`;
  });
  after(async () => {
    if (!stopped) await broker?.close();
    tmp?.cleanup();
  });

  it('exits 0 with a SERVING line when the daemon serves', async () => {
    const r = await runCapture(['health', '--addr', healthAddr]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `SERVING: secret-broker at ${healthAddr}\n`);
    const j = await runCapture(['health', '--addr', healthAddr, '--json']);
    assert.equal(j.code, 0, j.err);
    assert.deepEqual(JSON.parse(j.out), { ok: true, status: 'SERVING', addr: healthAddr });
  });

  it("takes the port from --config's health_listen (a wildcard host is probed on loopback)", async () => {
    const raw = baseRawConfig(pki, tmp.dir, { health_listen: `0.0.0.0:${broker.app.healthPort!}` });
    const file = path.join(tmp.dir, 'health-config.yaml');
    writeFileSync(file, JSON.stringify(raw)); // JSON is YAML
    const r = await runCapture(['health', '--config', file]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `SERVING: secret-broker at ${healthAddr}\n`);
  });

  it('a config without health_listen is a usage error that says so', async () => {
    const file = path.join(tmp.dir, 'no-health.yaml');
    writeFileSync(file, JSON.stringify(baseRawConfig(pki, tmp.dir)));
    const r = await runCapture(['health', '--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.err, /has no health_listen.*give --addr HOST:PORT/);
  });

  it('a malformed --addr is a usage error naming the flag', async () => {
    const r = await runCapture(['health', '--addr', 'localhost']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--addr: expected host:port, such as 127\.0\.0\.1:7444, got "localhost"/);
  });

  it('exits 1 when a named service is NOT_SERVING (a backend whose breaker opened) and for an unknown name', async () => {
    const r0 = await runCapture(['health', '--addr', healthAddr, '--service', 'secretbroker.backend.local']);
    assert.equal(r0.code, 0, r0.err);
    broker.app.health.set('secretbroker.backend.local', 'NOT_SERVING');
    try {
      const r = await runCapture(['health', '--addr', healthAddr, '--service', 'secretbroker.backend.local']);
      assert.equal(r.code, 1);
      assert.equal(r.out, `NOT_SERVING: service "secretbroker.backend.local" at ${healthAddr}\n`);
    } finally {
      broker.app.health.set('secretbroker.backend.local', 'SERVING');
    }
    const unknown = await runCapture(['health', '--addr', healthAddr, '--service', 'no.such.service']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /does not know the service name \(NOT_FOUND\)/);
  });

  it('exits 1 with one clear line, no stack, when the daemon has stopped (the CLI in its own process)', async () => {
    const serving = await cliProcess(['health', '--addr', healthAddr]);
    assert.equal(serving.status, 0, serving.stderr);
    assert.equal(serving.stdout, `SERVING: secret-broker at ${healthAddr}\n`);
    await broker.close();
    stopped = true;
    const r = await cliProcess(['health', '--addr', healthAddr]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^secret-broker: UNAVAILABLE: cannot reach the broker's health port at ${healthAddr.replace(/\./g, '\\.')}.*\\n$`));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr); // one line
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const j = await cliProcess(['health', '--addr', healthAddr, '--json']);
    assert.equal(j.status, 1);
    assert.equal(JSON.parse(j.stdout).ok, false);
  });
});
