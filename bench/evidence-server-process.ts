/**
 * A benchmark broker in its own process, built with or without evidence:
 *
 *   off  buildApp({ evidence: false })          no ledger at all
 *   on   buildApp({})                           evidence as the composition root wires it
 *
 * Prints {"port":N} on stdout, then serves until stdin closes.
 */
import * as path from 'node:path';
import { buildApp } from '../src/app';
import { compileConfig } from '../src/config/compile';
import { createLogger } from '../src/lib/logger';

export type EvidenceMode = 'off' | 'on';

async function main(): Promise<void> {
  const [mode, configJson] = process.argv.slice(2) as [EvidenceMode, string];
  if (mode !== 'off' && mode !== 'on') throw new Error(`mode: expected off or on, got ${String(mode)}`);
  const { __dir: dir, ...rest } = JSON.parse(configJson) as Record<string, unknown>;
  const config = compileConfig(rest, path.join(String(dir), 'config.yaml'));
  const log = createLogger({ level: 'warn' });
  const app = await buildApp({ config, log, ...(mode === 'off' ? { evidence: false } : {}) });
  process.stdout.write(JSON.stringify({ port: app.port }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    void (async () => {
      await app.close();
      process.exit(0);
    })();
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
