/**
 * The daemon in a child process, for tests that kill it (crash.test.ts): the
 * real composition root over a real config. argv[2] is the raw config as JSON
 * (plus `__dir`, the directory config paths are relative to). Prints
 * {"port":N} on stdout once it serves; logs (warn and up) go to stderr. It
 * shuts down cleanly when stdin closes; a test that wants a crash sends
 * SIGKILL instead.
 *
 * `SB_CHILD_STOP_AT=<step>` (rotation tests): when a rotation reaches that
 * step (RotationHooks.afterStep), the child writes `stopped at <step>` to
 * stderr and waits forever, for the test to SIGKILL it right there.
 */
import * as path from 'node:path';
import { buildApp } from '../../src/app';
import { compileConfig } from '../../src/config/compile';
import { createLogger } from '../../src/lib/logger';

async function main(): Promise<void> {
  const raw = JSON.parse(process.argv[2]!) as Record<string, unknown>;
  const { __dir: dir, ...rest } = raw;
  const config = compileConfig(rest, path.join(String(dir), 'config.yaml'));
  const stopAt = process.env['SB_CHILD_STOP_AT'];
  const rotationHooks = stopAt
    ? {
        afterStep: async (_secret: string, step: string): Promise<void> => {
          if (step !== stopAt) return;
          process.stderr.write(`stopped at ${step}\n`);
          await new Promise<never>(() => undefined);
        },
      }
    : undefined;
  const app = await buildApp({ config, log: createLogger({ level: process.env['SB_CHILD_LOG_LEVEL'] ?? 'warn' }), ...(rotationHooks ? { rotationHooks } : {}) });
  process.stdout.write(JSON.stringify({ port: app.port }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void app.close().then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
