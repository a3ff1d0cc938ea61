import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { freeLoopbackPort } from './ephemeral-postgres';

/**
 * A real `moto_server` (moto 5.x, `pip install 'moto[server]'`) on loopback,
 * for the AWS Secrets Manager tests (DESIGN.md "Testing with real parts").
 *
 * - `startMotoServer()` spawns `moto_server -H 127.0.0.1 -p <free port>` in its
 *   own process group and resolves once it answers HTTP. `close()` kills the
 *   whole group (the pyenv shim and python), so no python process outlives the
 *   test run.
 * - `stop()` kills it and `start()` brings it back on the same port, for outage
 *   tests. moto keeps everything in memory: **all secrets are lost on a stop**.
 * - `sharedMoto()` is one server per mocha process, started on first use and
 *   killed when the process exits. Tests share it, so they use unique secret
 *   names (or `reset()`, which empties every backend of moto).
 *
 * Credentials: the backend uses the SDK's default credential chain on purpose
 * (issue 11 item 3), so nothing here puts keys into a client's config. A test
 * sets fake keys in `process.env` with `useFakeAwsCredentials()` and calls the
 * returned function to restore the environment afterwards; moto accepts any
 * key. `AWS_EC2_METADATA_DISABLED` keeps the chain from probing the instance
 * metadata service when a test removes the keys.
 */
export interface MotoServer {
  /** `http://127.0.0.1:<port>` (or https with `tls`). */
  readonly endpoint: string;
  readonly port: number;
  /** Kills the server; its state is gone. The port stays reserved for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** Empties all of moto's state without a restart. */
  reset(): Promise<void>;
  /** Kills it for good. Idempotent. */
  close(): Promise<void>;
}

export interface MotoOptions {
  /** Serve HTTPS with this certificate chain and key (PEM file paths); `caPem` verifies it in the helper's own probes. */
  tls?: { certFile: string; keyFile: string; caPem: string };
  /** How long to wait for it to answer. Default 30 s (python imports are slow on a busy machine). */
  startTimeoutMs?: number;
}

export const FAKE_AWS_ENV: Readonly<Record<string, string>> = Object.freeze({
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
  AWS_EC2_METADATA_DISABLED: 'true',
});

/** Sets `vars` in process.env (undefined removes one) and returns a function that restores what was there. */
export function setEnv(vars: Readonly<Record<string, string | undefined>>): () => void {
  const saved = Object.keys(vars).map((k) => [k, process.env[k]] as const);
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/** Fake keys for moto in process.env; call the result to restore. */
export const useFakeAwsCredentials = (): (() => void) => setEnv(FAKE_AWS_ENV);

export async function startMotoServer(opts: MotoOptions = {}): Promise<MotoServer> {
  const port = await freeLoopbackPort();
  const scheme = opts.tls ? 'https' : 'http';
  const endpoint = `${scheme}://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let closed = false;

  const spawnOnce = async (): Promise<void> => {
    const args = ['-H', '127.0.0.1', '-p', String(port)];
    if (opts.tls) args.push('-c', opts.tls.certFile, '-k', opts.tls.keyFile);
    // Its own process group, so one kill reaches the shim and python alike.
    const c = spawn('moto_server', args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      c.once('error', (err) => reject(err));
      c.once('exit', (code, signal) => reject(new Error(`moto_server exited early (${code ?? signal}): ${stderr}`)));
    });
    exited.catch(() => undefined);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    for (;;) {
      if (await answers(port, opts.tls?.caPem)) return;
      if (Date.now() > deadline) {
        killGroup(c);
        throw new Error(`moto_server did not answer on ${endpoint}: ${stderr}`);
      }
      await Promise.race([exited, sleep(100)]);
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    killGroup(c);
    await gone;
    // The listening socket dies with the process; wait until the port refuses.
    for (let i = 0; i < 50 && (await answers(port, opts.tls?.caPem)); i++) await sleep(50);
  };

  await spawnOnce();
  const server: MotoServer = {
    endpoint,
    port,
    stop,
    async start() {
      if (closed) throw new Error('moto_server helper is closed');
      if (child) return;
      await spawnOnce();
    },
    async reset() {
      await post(port, '/moto-api/reset', opts.tls?.caPem);
    },
    async close() {
      closed = true;
      process.removeListener('exit', onExit);
      await stop();
    },
  };
  // Last resort when a test forgets close() or mocha exits: kill synchronously.
  const onExit = (): void => {
    if (child) killGroup(child);
  };
  process.on('exit', onExit);
  return server;
}

function killGroup(c: ChildProcess): void {
  if (c.pid === undefined) return;
  try {
    process.kill(-c.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

async function answers(port: number, caPem: string | undefined): Promise<boolean> {
  try {
    await post(port, '/moto-api/', caPem, 'GET');
    return true;
  } catch {
    return false;
  }
}

async function post(port: number, path: string, caPem: string | undefined, method = 'POST'): Promise<void> {
  const mod = caPem ? await import('node:https') : { request };
  await new Promise<void>((resolve, reject) => {
    const req = mod.request(
      { host: '127.0.0.1', port, path, method, timeout: 2000, ...(caPem ? { ca: caPem, rejectUnauthorized: true } : {}) },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode && res.statusCode < 500 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface SharedMotoHolder {
  server?: Promise<MotoServer>;
}
const shared: SharedMotoHolder = {};

/**
 * One plain-HTTP moto_server for the whole mocha process, started on first use
 * and killed at exit (the 'exit' hook in startMotoServer). Do not stop() it:
 * other tests share it; an outage test starts its own.
 */
export function sharedMoto(): Promise<MotoServer> {
  shared.server ??= startMotoServer().catch((err: unknown) => {
    delete shared.server;
    throw err;
  });
  return shared.server;
}
