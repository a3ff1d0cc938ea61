import { performance } from 'node:perf_hooks';
import { readdirSync, readFileSync } from 'node:fs';

export interface RunStats {
  label: string;
  ops: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
}

/** Runs `fn` with `concurrency` workers for `seconds` (bounded in time and count); latencies in ms. */
export async function closedLoop(label: string, fn: () => Promise<unknown>, opts: { seconds: number; concurrency: number; maxOps?: number }): Promise<RunStats> {
  const lat: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  const maxOps = opts.maxOps ?? 1_000_000;
  let issued = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end && issued < maxOps) {
      issued++;
      const t = performance.now();
      try {
        await fn();
        lat.push(performance.now() - t);
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  if (errors) console.error(`${label}: ${errors} errors; first: ${(firstError as Error)?.message}`);
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { label, ops: lat.length, errors, seconds, throughput: lat.length / seconds, p50: q(0.5), p99: q(0.99) };
}

export function printTable(rows: RunStats[]): void {
  console.log(['run'.padEnd(34), 'ops'.padStart(8), 'ops/s'.padStart(10), 'p50 ms'.padStart(9), 'p99 ms'.padStart(9)].join(' '));
  for (const r of rows) {
    console.log([r.label.padEnd(34), String(r.ops).padStart(8), r.throughput.toFixed(0).padStart(10), r.p50.toFixed(2).padStart(9), r.p99.toFixed(2).padStart(9)].join(' '));
  }
}

export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * CPU seconds (user + system) used so far by processes whose command name
 * matches `comm`, or by one pid; from /proc, so Linux only (0 elsewhere). The
 * benches print CPU per operation beside throughput: on a small shared machine
 * the broker, the client and the database compete for the same cores.
 */
export function cpuSeconds(which: { pid: number } | { comm: string }, part: 'all' | 'user' | 'system' = 'all'): number {
  const ticks = 100; // USER_HZ on Linux
  const read = (pid: string): number => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      if ('comm' in which && comm !== which.comm) return 0;
      const f = stat.slice(close + 2).split(' ');
      // utime, stime, then cutime, cstime: children it reaped (PostgreSQL backends that exited
      // mid-run count in the postmaster's), so a process that ends between two readings is not lost.
      return ((part !== 'system' ? Number(f[11]) + Number(f[13]) : 0) + (part !== 'user' ? Number(f[12]) + Number(f[14]) : 0)) / ticks;
    } catch {
      return 0;
    }
  };
  if ('pid' in which) return read(String(which.pid));
  let sum = 0;
  try {
    for (const d of readdirSync('/proc')) if (/^\d+$/.test(d)) sum += read(d);
  } catch {
    return 0;
  }
  return sum;
}
