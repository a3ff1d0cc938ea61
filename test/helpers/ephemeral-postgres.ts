import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, appendFileSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client as PgClient } from 'pg';

/**
 * A real, throwaway PostgreSQL cluster for tests (DESIGN "Testing with real
 * parts"): `initdb` and `pg_ctl` from the machine's PostgreSQL, run as the
 * `postgres` user when we are root (initdb refuses root), in a temp dir that
 * user owns, listening on a free loopback port.
 *
 * Password authentication is real: scram-sha-256 on TCP and on the socket, the
 * superuser's password set at initdb, no `trust` line anywhere. So a test that
 * revokes a login (or lets it expire) sees the login really fail.
 */
export interface EphemeralPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly superuser: string;
  readonly password: string;
  readonly database: string;
  /** postgres://<superuser>:<password>@127.0.0.1:<port>/<database> */
  readonly adminUrl: string;
  /** The unix socket directory (inside the temp dir). */
  readonly socketDir: string;
  /** The temp dir holding data, socket and log. */
  readonly dir: string;
  /** The server log (postgres.log in dir). */
  readonly logFile: string;
  /** Stops the postmaster (fast shutdown); data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same dir and port. */
  start(): Promise<void>;
  /** stop() and remove the temp dir. Idempotent. */
  close(): Promise<void>;
}

export interface EphemeralPostgresOptions {
  /** Default `postgres`. */
  superuser?: string;
  /** Default: 24 random bytes, hex. */
  password?: string;
  /** Created after the first start when not `postgres`. Default `postgres`. */
  database?: string;
  /** Default: a free loopback port. */
  port?: number;
  /** Extra postgresql.conf lines, such as "log_statement = 'all'". */
  settings?: readonly string[];
}

const PG_BIN_ROOT = '/usr/lib/postgresql';

/**
 * The directory holding initdb and pg_ctl: PATH first, then Debian's
 * /usr/lib/postgresql/<highest version>/bin (where CI's `apt-get install
 * postgresql` puts them, off PATH). undefined when neither has them.
 */
export function findPostgresBinDir(): string | undefined {
  const executable = (f: string): boolean => {
    try {
      accessSync(f, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  for (const d of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (d && executable(path.join(d, 'initdb')) && executable(path.join(d, 'pg_ctl'))) return d;
  }
  let versions: string[];
  try {
    versions = readdirSync(PG_BIN_ROOT).filter((v) => /^\d+(\.\d+)?$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const d = path.join(PG_BIN_ROOT, v, 'bin');
    if (executable(path.join(d, 'initdb')) && executable(path.join(d, 'pg_ctl'))) return d;
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound and released; the cluster takes it right after). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface PgUser {
  uid: number;
  gid: number;
}

/** The `postgres` account when we are root (initdb refuses root); undefined otherwise (we run the tools as ourselves). */
function pgUser(): PgUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const out = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
  const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
  return { uid: Number(out), gid: Number(gid) };
}

/** argv for running `bin` as the postgres user (through runuser when root). */
function asPg(user: PgUser | undefined, bin: string, args: readonly string[]): [string, string[]] {
  return user ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, [...args]];
}

function run(cmd: [string, string[]], cwd: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd[0], cmd[1], { cwd, timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(cmd[1][3] ?? cmd[0])} failed: ${err.message}\n${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

/** Settings for a quick, test-only cluster: loopback only, no durability. */
function settings(port: number, socketDir: string, extra: readonly string[] = []): string {
  return [
    '',
    '# secret-broker ephemeral test cluster',
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    "password_encryption = 'scram-sha-256'",
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    'shared_buffers = 16MB',
    'max_connections = 100',
    "log_min_messages = 'warning'",
    ...extra,
    '',
  ].join('\n');
}

// Real password authentication everywhere: no trust, no peer.
const PG_HBA = ['local all all scram-sha-256', 'host all all 127.0.0.1/32 scram-sha-256', ''].join('\n');

export async function startEphemeralPostgres(opts: EphemeralPostgresOptions = {}): Promise<EphemeralPostgres> {
  const binDir = findPostgresBinDir();
  if (!binDir) throw new Error(`initdb/pg_ctl not found on PATH or in ${PG_BIN_ROOT}/<version>/bin; install Debian's postgresql`);
  const user = pgUser();
  const superuser = opts.superuser ?? 'postgres';
  const password = opts.password ?? randomBytes(24).toString('hex');
  const database = opts.database ?? 'postgres';
  const port = opts.port ?? (await freeLoopbackPort());

  const dir = mkdtempSync(path.join(tmpdir(), 'sb-pg-'));
  const dataDir = path.join(dir, 'data');
  const socketDir = path.join(dir, 'sock');
  const logFile = path.join(dir, 'postgres.log');
  const pwFile = path.join(dir, 'pwfile');
  mkdirSync(socketDir, { mode: 0o700 });
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  writeFileSync(logFile, '', { mode: 0o600 });
  if (user) for (const f of [dir, socketDir, pwFile, logFile]) chownSync(f, user.uid, user.gid);

  const watchdog: { pid?: number } = {};
  let running = false;
  let closed = false;
  const pgCtl = (args: readonly string[]): [string, string[]] => asPg(user, path.join(binDir, 'pg_ctl'), ['-D', dataDir, ...args]);

  const startServer = async (): Promise<void> => {
    await run(pgCtl(['-l', logFile, '-w', '-t', '60', 'start']), dir, 90_000).catch((e: Error) => {
      let log = '';
      try {
        log = execFileSync('tail', ['-n', '30', logFile], { encoding: 'utf8' });
      } catch {
        // no log
      }
      throw new Error(`${e.message}\n--- postgres.log ---\n${log}`);
    });
    running = true;
  };
  const stopServer = async (): Promise<void> => {
    if (!running) return;
    await run(pgCtl(['-m', 'fast', '-w', '-t', '60', 'stop']), dir, 90_000);
    running = false;
  };

  const cleanupSync = (): void => {
    if (closed) return;
    closed = true;
    if (running) {
      try {
        const c = pgCtl(['-m', 'immediate', '-w', '-t', '30', 'stop']);
        execFileSync(c[0], c[1], { cwd: '/', stdio: 'ignore', timeout: 40_000 });
      } catch {
        // already gone
      }
      running = false;
    }
    rmSync(dir, { recursive: true, force: true });
    if (watchdog.pid !== undefined) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  try {
    await run(
      asPg(user, path.join(binDir, 'initdb'), [
        '-D',
        dataDir,
        '-U',
        superuser,
        `--pwfile=${pwFile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
      ]),
      dir,
      120_000,
    );
    rmSync(pwFile, { force: true });
    appendFileSync(path.join(dataDir, 'postgresql.conf'), settings(port, socketDir, opts.settings));
    writeFileSync(path.join(dataDir, 'pg_hba.conf'), PG_HBA);
    await startServer();
  } catch (e) {
    cleanupSync();
    throw e;
  }

  // A watchdog outside this process: if it dies without cleaning up (SIGKILL,
  // a crash), the cluster is stopped and its dir removed all the same.
  const wd = spawn(
    'sh',
    [
      '-c',
      user
        ? 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; runuser -u postgres -- "$2" -D "$3" -m immediate -w stop >/dev/null 2>&1; rm -rf "$4"'
        : 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" -D "$3" -m immediate -w stop >/dev/null 2>&1; rm -rf "$4"',
      'sb-pg-watchdog',
      String(process.pid),
      path.join(binDir, 'pg_ctl'),
      dataDir,
      dir,
    ],
    { detached: true, stdio: 'ignore' },
  );
  wd.unref();
  watchdog.pid = wd.pid;

  const onExit = (): void => cleanupSync();
  process.once('exit', onExit);

  const pg: EphemeralPostgres = {
    host: '127.0.0.1',
    port,
    superuser,
    password,
    database,
    adminUrl: `postgres://${encodeURIComponent(superuser)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    socketDir,
    dir,
    logFile,
    stop: async () => {
      if (closed) throw new Error('ephemeral postgres is closed');
      await stopServer();
    },
    start: async () => {
      if (closed) throw new Error('ephemeral postgres is closed');
      if (!running) await startServer();
    },
    close: async () => {
      if (closed) return;
      try {
        await stopServer();
      } catch {
        // cleanupSync stops it the hard way
      }
      process.removeListener('exit', onExit);
      cleanupSync();
    },
  };

  if (database !== 'postgres') {
    const { Client } = await import('pg');
    const c = new Client({ host: '127.0.0.1', port, user: superuser, password, database: 'postgres' });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } finally {
      await c.end();
    }
  }
  return pg;
}

// One cluster per mocha process (DESIGN: "one ephemeral cluster per test
// run"), shared by every test file that needs PostgreSQL. Test-helper state,
// not src/: invariant 9 is about the broker.
let shared: Promise<EphemeralPostgres> | undefined;

/**
 * The process-wide cluster, started on first use. It is stopped and its dir
 * removed when the process exits (also under mocha's --exit, which calls
 * process.exit), and by a watchdog if the process is killed. Its close() does
 * nothing; stop()/start() are fine if the test starts it again.
 */
export function sharedPostgres(): Promise<EphemeralPostgres> {
  if (!shared) {
    // close() is a no-op here: one test file closing the shared cluster must not take it from the files after it.
    shared = startEphemeralPostgres().then((pg) => ({ ...pg, close: () => Promise.resolve() }));
    shared.catch(() => {
      shared = undefined;
    });
  }
  return shared;
}

/** True when the cluster's data dir still exists (for tests of this helper). */
export function clusterDirExists(pg: EphemeralPostgres): boolean {
  return existsSync(pg.dir);
}

/** Logs in with `url` on a new connection: null when it works, else the SQLSTATE (or 'no-code'). */
export async function loginState(url: string): Promise<string | null> {
  const c = new PgClient({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? 'no-code';
  } finally {
    await c.end().catch(() => undefined);
  }
}
