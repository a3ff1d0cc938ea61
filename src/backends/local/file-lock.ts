/**
 * An exclusive lock file for read-modify-write of one file across processes.
 *
 * The lock is `<lockPath>` created with O_EXCL and holding
 * `{"pid","host","token","created_at"}`. A lock is stale when its holder is on
 * this host and its pid is gone, or when it is older than `staleMs` (judged by
 * the injected clock) and either comes from another host or is unreadable (a
 * crash between create and write). Stale locks are broken under a second,
 * short-lived lock (`<lockPath>.break`) and only if the file is still the one
 * judged stale (same inode, same bytes), so two waiters cannot both break a
 * lock and then remove each other's fresh one.
 *
 * Residual risks, accepted: a stopped (SIGSTOP) holder on another host whose
 * lock outlives `staleMs` (the holder checks `stillHeld()` right before it
 * commits, which narrows but does not close that window); a recycled pid makes
 * a dead holder look alive (writers then time out with a message naming the
 * lock file); a waiter dying inside the few syscalls of a break, then two
 * others racing to clear its `.break` file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../lib/clock';
import { BrokerError } from '../../lib/errors';
import { errCode } from '../../lib/errno';

export interface FileLockOptions {
  clock: Clock;
  /** Give up after waiting about this long. */
  timeoutMs: number;
  /** Age after which a lock that cannot be checked by pid counts as abandoned. */
  staleMs: number;
  /** Upper bound of the randomized wait between attempts. */
  retryMs?: number;
  /** Names the locked thing in errors, e.g. `sealed file var/secrets.sealed`. */
  what: string;
}

export interface HeldLock {
  /** True while the lock file is still ours (nobody judged us stale and broke it). */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
  created_at: number;
}

interface Observed {
  raw: Buffer;
  ino: number;
  mtimeMs: number;
}

export async function acquireFileLock(lockPath: string, opts: FileLockOptions): Promise<HeldLock> {
  const token = randomBytes(16).toString('hex');
  const body = Buffer.from(
    JSON.stringify({ pid: process.pid, host: hostname(), token, created_at: opts.clock.now() } satisfies LockInfo),
  );
  const retryMs = opts.retryMs ?? 25;
  let waited = 0;
  let holder: LockInfo | undefined;
  for (;;) {
    if (await tryCreate(lockPath, body, opts.what)) return held(lockPath, body);
    const seen = await observe(lockPath);
    if (seen === null) continue; // released between our attempt and our look
    holder = parseInfo(seen.raw);
    if (isStale(holder, seen, opts) && (await breakStale(lockPath, seen, opts))) continue;
    if (waited >= opts.timeoutMs) break;
    // Randomized waits keep many waiters from retrying in lockstep.
    const delay = 1 + Math.floor(Math.random() * retryMs);
    await sleep(delay);
    waited += delay;
  }
  const by = holder ? `pid ${holder.pid} on host ${holder.host}` : 'an unknown process';
  throw new BrokerError(
    'unavailable',
    `local secret store: ${opts.what} is locked by ${by}; if no secret-broker process is running there, remove ${lockPath}`,
  );
}

async function tryCreate(path: string, body: Buffer, what: string): Promise<boolean> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, 'wx', 0o600);
  } catch (err) {
    if (errCode(err) === 'EEXIST') return false;
    throw new BrokerError('unavailable', `local secret store: cannot create lock file for ${what} (${errCode(err)})`, {
      cause: err,
    });
  }
  try {
    await fh.writeFile(body);
  } finally {
    await fh.close();
  }
  return true;
}

function held(path: string, body: Buffer): HeldLock {
  const stillHeld = async (): Promise<boolean> => {
    const seen = await observe(path);
    return seen !== null && seen.raw.equals(body);
  };
  return {
    stillHeld,
    release: async () => {
      if (await stillHeld()) await unlinkIfPresent(path);
    },
  };
}

/** Reads the lock's bytes and identity through one descriptor; null if absent. */
async function observe(path: string): Promise<Observed | null> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, 'r');
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = await fh.stat();
    const raw = await fh.readFile();
    return { raw, ino: st.ino, mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

function parseInfo(raw: Buffer): LockInfo | undefined {
  try {
    const v = JSON.parse(raw.toString('utf8')) as Partial<LockInfo>;
    if (
      Number.isSafeInteger(v.pid) &&
      (v.pid as number) > 0 &&
      typeof v.host === 'string' &&
      typeof v.token === 'string' &&
      typeof v.created_at === 'number'
    ) {
      return v as LockInfo;
    }
  } catch {
    // unreadable: judged by age below
  }
  return undefined;
}

function isStale(info: LockInfo | undefined, seen: Observed, opts: FileLockOptions): boolean {
  if (info && info.host === hostname()) return !pidAlive(info.pid);
  const since = info ? info.created_at : seen.mtimeMs;
  return opts.clock.now() - since > opts.staleMs;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return errCode(err) === 'EPERM';
  }
}

/** Removes the judged lock if it is still in place. False when another waiter is busy breaking it. */
async function breakStale(lockPath: string, judged: Observed, opts: FileLockOptions): Promise<boolean> {
  const breakPath = `${lockPath}.break`;
  const body = Buffer.from(JSON.stringify({ pid: process.pid, host: hostname(), token: 'break', created_at: opts.clock.now() }));
  if (!(await tryCreate(breakPath, body, opts.what))) {
    // Another waiter is breaking it. Its break lock lives for a few syscalls,
    // so one that lingers belongs to a process that died mid-break.
    const seen = await observe(breakPath);
    if (seen && !isStale(parseInfo(seen.raw), seen, opts)) return false;
    await unlinkIfPresent(breakPath);
    return true;
  }
  try {
    const now = await observe(lockPath);
    if (now && now.ino === judged.ino && now.mtimeMs === judged.mtimeMs && now.raw.equals(judged.raw)) {
      await unlinkIfPresent(lockPath);
    }
    return true;
  } finally {
    await unlinkIfPresent(breakPath);
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (errCode(err) !== 'ENOENT') throw err;
  }
}
