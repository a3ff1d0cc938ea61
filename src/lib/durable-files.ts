/**
 * Durable whole-file replacement: readers see the old file or the new one,
 * never a mix, and after a crash the file is one of the two.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errCode } from './errno';

const TEMP_INFIX = '.tmp-';
const TEMP_SUFFIX = /^[0-9a-f]{16}$/;

/** A fresh temp name next to `path`, so the final rename stays on one filesystem. */
export function tempPathFor(path: string): string {
  return `${path}${TEMP_INFIX}${randomBytes(8).toString('hex')}`;
}

/**
 * Writes `data` to a new 0600 (or `mode`) temp file beside `path`, fsyncs it,
 * runs `beforeCommit` (which may veto by throwing), renames it over `path` and
 * fsyncs the directory so the rename itself survives a crash.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  opts: { mode?: number; beforeCommit?: () => Promise<void> } = {},
): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const tmp = tempPathFor(path);
  let renamed = false;
  try {
    await writeNewFile(tmp, data, mode);
    await opts.beforeCommit?.();
    await fs.rename(tmp, path);
    renamed = true;
    await fsyncDir(dirname(path));
  } finally {
    if (!renamed) await fs.rm(tmp, { force: true });
  }
}

/** Creates `path` exclusively with exactly `mode` (umask notwithstanding), writes and fsyncs it. */
export async function writeNewFile(path: string, data: Uint8Array, mode: number): Promise<void> {
  const fh = await fs.open(path, 'wx', mode);
  try {
    // open() applies the umask; set the exact mode before any byte is written.
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems cannot fsync a directory; the rename is still atomic there.
    if (errCode(err) !== 'EINVAL') throw err;
  } finally {
    await fh.close();
  }
}

/** mkdir -p with `mode`, fsyncing the parent of the topmost directory it created so the new entry is durable. */
export async function makeDirDurable(dir: string, mode: number): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true, mode });
  if (first !== undefined) await fsyncDir(dirname(first));
}

/**
 * Removes temp files a crashed writer left beside `path`. Call only while
 * holding the write lock: then no live writer owns one.
 */
export async function removeOrphanTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}${TEMP_INFIX}`;
  const dir = dirname(path);
  for (const entry of await fs.readdir(dir)) {
    if (entry.startsWith(prefix) && TEMP_SUFFIX.test(entry.slice(prefix.length))) {
      await fs.rm(join(dir, entry), { force: true });
    }
  }
}

/**
 * Creates `path` holding `data` (mode 0600) unless it already exists, and says
 * whether this call created it. The data goes to an O_EXCL temp file that is
 * fsynced and then hard-linked into place, so the file is never seen
 * half-written or with a wider mode, and of two racing creators exactly one
 * wins (the loser gets false and uses the winner's file). Errors are raw
 * Node errors; callers translate them.
 */
export async function createFileOnce(path: string, data: Uint8Array): Promise<boolean> {
  const dir = dirname(path);
  const tmp = tempPathFor(path);
  let created = false;
  try {
    await makeDirDurable(dir, 0o700);
    await writeNewFile(tmp, data, 0o600);
    try {
      await fs.link(tmp, path);
      created = true;
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw err;
    }
    await fs.rm(tmp, { force: true });
    await fsyncDir(dir);
    return created;
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
