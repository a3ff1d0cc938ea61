/**
 * Child process for the cross-process concurrency test:
 * `put-worker.ts <sealed path> <key file> <name> <label> <count>` puts
 * `<label>-<i>` for i in 0..count-1, with a short random pause between puts so
 * the workers interleave, and prints the versions it got as JSON.
 * It prints `ready` once the backend is open and starts putting only when a
 * line arrives on stdin, so the parent can release all workers at once.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../../../src/lib/clock';
import { SecretValue } from '../../../../src/lib/secret-value';
import { openLocalBackend } from '../../../../src/backends/local';

async function main(): Promise<void> {
  const [path, keyFile, name, label, count] = process.argv.slice(2);
  const b = await openLocalBackend({ name: 'local', path: path!, keyFile: keyFile!, clock: systemClock });
  const versions: number[] = [];
  try {
    process.stdout.write('ready\n');
    await once(process.stdin, 'data');
    process.stdin.pause();
    for (let i = 0; i < Number(count); i++) {
      versions.push((await b.put(name!, SecretValue.fromString(`${label}-${i}`))).version);
      await sleep(Math.floor(Math.random() * 4));
    }
  } finally {
    await b.close();
  }
  process.stdout.write(`${JSON.stringify(versions)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
