import * as fs from 'node:fs';
import * as path from 'node:path';

/** Root of the copied public vectors (test/fixtures/vectors). */
export const VECTORS_DIR = path.resolve(__dirname, '../../fixtures/vectors');

/** Every `.json` file under `dir`, recursively, sorted; relative to VECTORS_DIR. */
export function jsonFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const ent of fs.readdirSync(path.join(VECTORS_DIR, rel), { withFileTypes: true })) {
      const child = path.join(rel, ent.name);
      if (ent.isDirectory()) walk(child);
      else if (ent.name.endsWith('.json')) out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

export function readVector<T>(rel: string): T {
  return JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, rel), 'utf8')) as T;
}

export function b64(s: string): Buffer {
  return Buffer.from(s, 'base64');
}
