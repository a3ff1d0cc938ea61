import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a bench server script (default bench/server-process.ts) in a child
 * process and waits for the {"port":N} line it prints. BENCH_PROFILE=<mode>
 * CPU-profiles that child into /tmp/prof; BENCH_PERF=<mode> writes the perf
 * map of its JIT code (/tmp/perf-<pid>.map), for `perf record`.
 */
export function spawnServer(mode: string, raw: Record<string, unknown>, script = 'server-process.ts'): Promise<ServerProcess> {
  const child = spawn(process.execPath, [
      ...(process.env['BENCH_PROFILE'] === mode ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
      ...(process.env['BENCH_PERF'] === mode ? ['--perf-basic-prof', '--interpreted-frames-native-stack'] : []), '-r', 'reflect-metadata', '-r', 'tsx/cjs', path.join(__dirname, script), mode, JSON.stringify(raw)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        port,
        child,
        stop: () =>
          new Promise<void>((res) => {
            child.once('exit', () => res());
            child.stdin!.end();
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}
