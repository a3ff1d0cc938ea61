import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export interface DaemonProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** What the child wrote to stderr so far (its logs), for failure messages. */
  stderr(): string;
  /** kill -9: no shutdown code runs, as in a crash or an OOM kill. Resolves when the process is gone. */
  crash(): Promise<void>;
  /** A clean stop (closes stdin; SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/** Starts test/helpers/daemon-process.ts in a child process and waits until it serves (or fails). */
export function spawnDaemon(raw: Record<string, unknown> & { __dir: string }, opts: { startTimeoutMs?: number } = {}): Promise<DaemonProcess> {
  const child = spawn(process.execPath, ['-r', 'reflect-metadata', '-r', 'tsx/cjs', path.join(__dirname, 'daemon-process.ts'), JSON.stringify(raw)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: path.resolve(__dirname, '../..'),
  });
  let err = '';
  // Writing to (or ending) the stdin of a child that already died must not crash the test run.
  child.stdin!.on('error', () => undefined);
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString('utf8');
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the daemon did not start within ${opts.startTimeoutMs ?? 30_000} ms; stderr:\n${err.slice(-4000)}`));
    }, opts.startTimeoutMs ?? 30_000);
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      clearTimeout(timer);
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        port,
        child,
        stderr: () => err,
        crash: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.stdin!.end();
          const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(t);
        },
      });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited (${code ?? signal}) before serving; stderr:\n${err.slice(-4000)}`));
    });
  });
}
