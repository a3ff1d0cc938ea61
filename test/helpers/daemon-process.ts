/**
 * The daemon in a child process, for tests that kill it (crash.test.ts): the
 * real composition root over a real config. argv[2] is the raw config as JSON
 * (plus `__dir`, the directory config paths are relative to). Prints
 * {"port":N} on stdout once it serves; logs (warn and up) go to stderr. It
 * shuts down cleanly when stdin closes; a test that wants a crash sends
 * SIGKILL instead.
 */
import * as path from 'node:path';
import { buildApp } from '../../src/app';
import { compileConfig } from '../../src/config/compile';
import { createLogger } from '../../src/lib/logger';

async function main(): Promise<void> {
  const raw = JSON.parse(process.argv[2]!) as Record<string, unknown>;
  const { __dir: dir, ...rest } = raw;
  const config = compileConfig(rest, path.join(String(dir), 'config.yaml'));
  const app = await buildApp({ config, log: createLogger({ level: process.env['SB_CHILD_LOG_LEVEL'] ?? 'warn' }) });
  process.stdout.write(JSON.stringify({ port: app.port }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void app.close().then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
