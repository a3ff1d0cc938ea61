import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { REPO, tempDir } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Dev {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | null>;
}

/** `secret-broker dev --config FILE` in its own process, as `npm run dev` runs it (from source here). */
function startDev(config: string): Dev {
  const child = spawn(process.execPath, ['-r', 'reflect-metadata', '-r', 'tsx/cjs', path.join(REPO, 'src/main.ts'), 'dev', '--config', config], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

/** The exit code, or 'timeout' if the process is still running after `ms` (a daemon left running keeps it alive). */
function exitWithin(dev: Dev, ms = 60_000): Promise<number | null | 'timeout'> {
  return Promise.race([dev.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);
}

async function until(what: string, f: () => boolean, dev: Dev, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (dev.child.exitCode !== null) throw new Error(`dev exited (${dev.child.exitCode}) before ${what}:\n${dev.stderr()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${dev.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('secret-broker dev (the README quick start, on a copy of deploy/dev with free ports)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  let upstreamPort: number;
  const running: Dev[] = [];

  before(async () => {
    tmp = tempDir('sb-dev-');
    const devDir = path.join(tmp.dir, 'deploy', 'dev');
    mkdirSync(devDir, { recursive: true });
    cpSync(path.join(REPO, 'deploy/dev/policies'), path.join(devDir, 'policies'), { recursive: true });
    upstreamPort = await freePort();
    const text = readFileSync(path.join(REPO, 'deploy/dev/config.yaml'), 'utf8')
      .replace(/127\.0\.0\.1:(7443|7444|9464)\b/g, '127.0.0.1:0')
      .replace(/127\.0\.0\.1:8443\b/g, `127.0.0.1:${upstreamPort}`);
    assert.doesNotMatch(text, /:(7443|7444|9464|8443)\b/);
    config = path.join(devDir, 'config.yaml');
    writeFileSync(config, text);
  });
  after(async () => {
    for (const d of running) {
      if (d.child.exitCode === null) {
        d.child.kill('SIGKILL');
        await d.exited;
      }
    }
    tmp?.cleanup();
  });

  it('creates the dev home, serves, and the quick start brokered call goes through the demo upstream', async () => {
    const dev = startDev(config);
    running.push(dev);
    await until('the ready line', () => dev.stderr().includes('press Ctrl-C to stop'), dev);
    assert.match(dev.stderr(), /created a dev PKI in /);
    assert.match(dev.stderr(), new RegExp(`demo upstream .* on https://127\\.0\\.0\\.1:${upstreamPort}`));
    const addr = /serving on (127\.0\.0\.1:\d+) \(mTLS\)/.exec(dev.stderr())?.[1];
    assert.ok(addr, dev.stderr());
    const pki = path.join(tmp.dir, 'var', 'dev', 'pki');
    const env = { SECRET_BROKER_ADDR: addr, SECRET_BROKER_CA: path.join(pki, 'ca.pem'), SECRET_BROKER_CERT: path.join(pki, 'agents/support-bot.pem'), SECRET_BROKER_KEY: path.join(pki, 'agents/support-bot.key') };
    const lease = await runCapture(['lease', 'request', 'tickets.update', 'ticket/T-1', '--param', 'ticket=T-1', '--json'], '', env);
    assert.equal(lease.code, 0, lease.err);
    const granted = JSON.parse(lease.out) as { status: string; lease: { leaseId: string } };
    assert.equal(granted.status, 'GRANTED');
    const inv = await runCapture(['invoke', '--lease', granted.lease.leaseId, '--method', 'PUT', '--path', '/tickets/T-1', '--body', '{"status":"closed"}', '--json'], '', env);
    assert.equal(inv.code, 0, inv.err);
    const body = JSON.stringify(JSON.parse(inv.out));
    assert.match(body, /closed/);
    // The sealed demo token reached the upstream (it answers 401 otherwise) and not the agent.
    assert.doesNotMatch(body, /demo_helpdesk_token_/);
  });

  it('a second dev on the same state stops at the state lock with one clear line, and the first keeps serving', async () => {
    const second = startDev(config);
    running.push(second);
    assert.equal(await exitWithin(second), 1, second.stderr());
    assert.match(second.stderr(), /another secret-broker daemon is using the state at .*broker\.db .*one daemon per SQLite state/);
    assert.doesNotMatch(second.stderr(), /EADDRINUSE|\n\s+at /);
    assert.equal(running[0]!.child.exitCode, null, 'the first dev still runs');
  });

  it('stops cleanly on SIGTERM', async () => {
    const first = running[0]!;
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.stderr());
  });

  it('a taken demo upstream port is refused with a line naming the port, and the daemon it started is closed again', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(upstreamPort, '127.0.0.1', () => r()));
    try {
      const dev = startDev(config);
      running.push(dev);
      assert.equal(await exitWithin(dev), 1, dev.stderr());
      assert.match(dev.stderr(), new RegExp(`the demo upstream cannot listen on 127\\.0\\.0\\.1:${upstreamPort}: the port is in use`));
      // Its daemon released the state lock: the next dev starts.
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
    const again = startDev(config);
    running.push(again);
    await until('the ready line', () => again.stderr().includes('press Ctrl-C to stop'), again);
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0, again.stderr());
  });

  it('a dev config whose actions call 127.0.0.1 on two ports is refused before anything starts, and the process exits', async () => {
    const two = path.join(tmp.dir, 'deploy', 'dev', 'two-ports.yaml');
    writeFileSync(two, readFileSync(config, 'utf8').replace(`https://127.0.0.1:${upstreamPort}/api`, `https://127.0.0.1:${upstreamPort + 1}/api`));
    const dev = startDev(two);
    running.push(dev);
    assert.equal(await exitWithin(dev), 1, dev.stderr());
    assert.match(dev.stderr(), /the dev config's actions call 127\.0\.0\.1 on several ports/);
    assert.doesNotMatch(dev.stderr(), /serving on|listening/, 'no daemon was started');
  });
});
