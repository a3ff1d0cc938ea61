import { statSync } from 'node:fs';

/**
 * Refuses key files that the group or others can read (or write). A leaked
 * server or signing key defeats every other control, so outside dev mode this
 * stops the daemon at start.
 */
export function checkKeyFilePermissions(files: readonly string[]): string[] {
  const problems: string[] = [];
  for (const f of files) {
    let mode: number;
    try {
      mode = statSync(f).mode;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // created later with 0600, or reported by whoever needs it
      problems.push(`${f}: cannot stat (${code})`);
      continue;
    }
    if ((mode & 0o077) !== 0) {
      problems.push(`${f}: mode ${(mode & 0o777).toString(8).padStart(4, '0')} lets the group or others read it; run chmod 600 ${f}`);
    }
  }
  return problems;
}
