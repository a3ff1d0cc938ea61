import { performance } from 'node:perf_hooks';

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
