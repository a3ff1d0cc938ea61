import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The package version (from package.json, next to src/ or dist/), or "unknown". */
export function buildVersion(): string {
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.resolve(__dirname, up, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'secret-broker' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: try the next place
    }
  }
  return 'unknown';
}
