/**
 * Dynamic PostgreSQL credentials: one login role per lease, made by the broker
 * through `pg` with an admin login whose URL is read from another (static)
 * backend.
 *
 * 1. `plan` names the role before it exists: the prefix and 32 random hex
 *    digits (63 bytes at most), so the broker records it durably first.
 * 2. `create` makes a random password, computes its SCRAM-SHA-256 verifier here
 *    (the password never reaches the server), and in one transaction creates
 *    the role (LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
 *    NOREPLICATION NOBYPASSRLS, CONNECTION LIMIT, VALID UNTIL the lease expiry),
 *    sets its default statement_timeout and grants CONNECT on the admin URL's
 *    database, USAGE on each schema and the listed privileges, nothing more.
 *    A failure rolls the transaction back; when its outcome is unknown (the
 *    connection died), the role is dropped, or `CredentialLeftError` says so.
 * 3. `renew` moves VALID UNTIL to min(expiresAt, maxExpiresAt).
 * 4. `revoke` / `revokeMany`: NOLOGIN (committed), then terminate the roles'
 *    sessions, DROP OWNED BY, DROP ROLE, a batch in one round; a role already
 *    gone counts as revoked.
 * 5. `listIssued`: the roles named like the ones `plan` makes (exact prefix).
 * At the first connection, the log warns when PUBLIC may CONNECT to other
 *    databases or create TEMP tables in this one (every role inherits PUBLIC).
 * Every operation is bounded by the backend's `timeout`; the admin URL is
 * read again after an authentication failure (it may have been rotated).
 */
import { randomBytes } from 'node:crypto';
import { escapeIdentifier, Pool, type PoolClient } from 'pg';
import type { PostgresBackendConfig, PostgresGrant } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import { BrokerError, ContentionError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { SecretValue } from '../../lib/secret-value';
import { CredentialLeftError, type CredentialHandle, type DynamicCredentialBackend, type IssuedCredential, type LeaseBinding, type PreparedSecret } from '../backend';
import { parseAdminUrl, type AdminTarget } from './admin-url';
import { isAuthFailure, LOCK_NOT_AVAILABLE, sqlState, toBrokerError } from './postgres-errors';
import {
  adminMembershipSql,
  createRolesSql,
  ddlLockName,
  type DdlLock,
  dropRolesSql,
  endSessionsListPreparedSql,
  likePrefix,
  lockHoldersSql,
  leaseConnectionsSql,
  loginOffSql,
  noLoginSql,
  openSlotsSql,
  preparedOfSql,
  PRIVILEGES,
  rollbackPreparedSql,
  setRoleSql,
  terminateSql,
  validUntilSql,
  type RoleSpec,
} from './role-sql';
import { scramSha256Verifier } from './scram-verifier';

/** What a `postgres` action gives the backend. */
export interface PostgresSpec {
  grants: readonly PostgresGrant[];
  /** CONNECTION LIMIT, 1..100. */
  connectionLimit: number;
  /** The role's default statement_timeout in ms. */
  statementTimeoutMs: number;
}

export type PostgresBackend = DynamicCredentialBackend<PostgresSpec> & {
  readonly kind: 'postgres';
  listIssued(): Promise<CredentialHandle[]>;
  revokeMany(handles: readonly CredentialHandle[]): Promise<string[]>;
  plan(spec: PostgresSpec, lease: LeaseBinding): CredentialHandle;
  prepare(spec: PostgresSpec): PreparedSecret;
  validate(spec: PostgresSpec): Promise<void>;
  /**
   * One of this backend's lease roles was found at the role-DDL key by another postgres backend of this
   * daemon on the same server: its login is disabled, its sessions end, its prepared transactions are
   * rolled back, and it is reported (onMisuse). False when `role` is not one of this backend's.
   */
  disableLockHolder(role: string): Promise<boolean>;
};

/** The names this backend gives its lease roles: its prefix and 32 hex digits. */
export function leaseRoleName(prefix: string): RegExp {
  return new RegExp(`^${prefix}[0-9a-f]{${RANDOM_HEX}}$`);
}

export interface PostgresBackendDeps {
  clock: Clock;
  log: Logger;
  /** The admin URL, read from its static backend; `fresh` skips any cache (after an authentication failure). */
  adminUrl: (opts?: { fresh?: boolean; pending?: boolean }) => Promise<SecretValue>;
  /** A lease role of this backend worked against the broker (`what` says how); its login is already disabled. */
  onMisuse?: (role: string, what: string) => void;
  /**
   * A role at the role-DDL key that is not one of this backend's: another postgres backend of this daemon on
   * the same server disables it if it is one of its lease roles (true), so it cannot hold this one up either.
   */
  peerLockHolder?: (role: string) => Promise<boolean>;
}

const RANDOM_HEX = 32;
const PASSWORD_BYTES = 32;
/** Connections the broker keeps to one server; role DDL is short (and serialized by an advisory lock). */
const POOL_MAX = 8;
/** SQLSTATE 42704: the role does not exist. */
const UNDEFINED_OBJECT = '42704';

/** Role creates sent together at most (one transaction). */
const CREATE_BATCH = 32;

interface CreateJob {
  spec: Omit<RoleSpec, 'database'>;
  resolve: (target: AdminTarget) => void;
  reject: (failure: CreateFailure) => void;
}

/** Why a create failed, and whether its role may exist anyway (the statements went out, no rollback is certain). */
interface CreateFailure {
  err: unknown;
  maybeLeft: boolean;
}

/** Which admin URL a pool logs in with. */
type UrlSource = 'current' | 'pending';

interface Connection {
  pool: Pool;
  target: AdminTarget;
  /**
   * `current`: the current admin URL, read again for each new connection (so the pool follows a
   * finished rotation); `pending`: a rotation's pending URL, with the password it had when the pool
   * was made (never read again).
   */
  source: UrlSource;
}

/**
 * What this backend's lease roles that may log in hold together, kept in memory between reads of the
 * server (leaseConnectionsSql): a read sets it; each role this process creates adds its CONNECTION LIMIT,
 * and each it drops takes back what it added. Roles from before the last read are not known by name, so
 * their drops take nothing back: the count may be above the server's, never below it (for roles of this
 * prefix made by this process), and a round that might not fit reads the server again.
 */
class ConnectionBudget {
  estimate: number | undefined;
  private readonly since = new Map<string, number>();

  exact(used: number): void {
    this.estimate = used;
    this.since.clear();
  }

  created(role: string, limit: number): void {
    if (this.estimate === undefined) return;
    this.estimate += limit;
    this.since.set(role, limit);
  }

  dropped(roles: readonly string[]): void {
    for (const r of roles) {
      const limit = this.since.get(r);
      if (limit === undefined || this.estimate === undefined) continue;
      this.estimate -= limit;
      this.since.delete(r);
    }
  }
}

export function openPostgresBackend(cfg: PostgresBackendConfig, deps: PostgresBackendDeps): PostgresBackend {
  const name = cfg.name;
  const { clock, log } = deps;
  const timeoutMs = cfg.timeoutMs;
  const lockTimeoutMs = Math.max(100, Math.min(1000, Math.floor(timeoutMs / 4)));
  const ownName = leaseRoleName(cfg.rolePrefix);
  /** What role DDL serializes on: lock_table when configured (no lease role can take it), else the advisory key. */
  const ddlLock: DdlLock = cfg.lockTable ? { table: cfg.lockTable } : undefined;
  const lockName = ddlLockName(ddlLock);
  let conn: Promise<Connection> | undefined;
  let freshUrl = false;
  /**
   * The admin URL the next pool is made from: the other one than the pool whose login was refused
   * last (README "Rotation of the admin login"). So the pending URL (a rotation's, part-way) is
   * used only right after the current one was refused, and the current one again once the pending
   * one is refused; a refused pool is dropped, and the next pool reads its URL afresh.
   */
  let nextSource: UrlSource = 'current';
  /**
   * The parsed admin URL the next pool is made from. A pending URL that cannot be read or does not
   * parse (AWSPENDING is writable by others) is skipped for the current one, read afresh: it never
   * keeps the backend from logging in with a current URL that works.
   */
  const readUrl = async (): Promise<{ target: AdminTarget; source: UrlSource }> => {
    if (nextSource === 'pending') {
      const p = await deps.adminUrl({ fresh: true, pending: true }).catch(() => undefined);
      if (p) {
        try {
          return { target: parseAdminUrl(p, name), source: 'pending' };
        } catch {
          // Not the error: its text is about the URL's shape, but nothing of the value goes to the log.
          log.warn({ backend: name }, 'postgres: the pending admin URL does not parse; the current one is used');
        } finally {
          p.wipe();
        }
      }
    }
    const url = await deps.adminUrl(freshUrl ? { fresh: true } : undefined);
    try {
      return { target: parseAdminUrl(url, name), source: 'current' };
    } finally {
      url.wipe();
    }
  };
  let publicChecked = false;
  /** Whether the server allows prepared transactions (max_prepared_transactions > 0); read at the first connection. */
  let preparedPossible = true;
  let closed = false;

  const live = (): void => {
    if (closed) throw new BrokerError('unavailable', `backend "${name}" (postgres) is closed`);
  };

  const connect = (): Promise<Connection> => {
    if (!conn) {
      const p = (async (): Promise<Connection> => {
        const { target, source } = await readUrl();
        freshUrl = false;
        const pool = new Pool({
          host: target.host,
          port: target.port,
          user: target.user,
          database: target.database,
          // Asked per connection, so the password lives only in the SecretValue between connections. After
          // a rotation of the admin URL (the registry dropped its cached read) a new connection reads the
          // new password, so the pool's open connections and its new ones both keep working. A pool on
          // the pending URL keeps the password it was made with: when that is refused, the next pool
          // goes back to the current URL.
          password: async () => {
            if (source === 'pending') return target.password.revealString();
            const now = await deps.adminUrl().catch(() => undefined);
            if (!now) return target.password.revealString();
            try {
              const t = parseAdminUrl(now, name);
              try {
                return t.password.revealString();
              } finally {
                t.password.wipe();
              }
            } catch {
              return target.password.revealString();
            } finally {
              now.wipe();
            }
          },
          ssl: target.ssl,
          max: POOL_MAX,
          idleTimeoutMillis: 10_000,
          // One connection is kept once made: with the server's slots taken by others, revocations still have one.
          min: 1,
          connectionTimeoutMillis: timeoutMs,
          query_timeout: timeoutMs,
          statement_timeout: timeoutMs,
          // A lock wait ends well within the operation's deadline, so the broker can see who holds it (withDdlLock).
          lock_timeout: lockTimeoutMs,
          application_name: 'secret-broker',
          allowExitOnIdle: true,
        });
        // An idle connection the server drops (restart, shutdown) must not crash the daemon.
        pool.on('error', (err) => log.warn({ err: { code: sqlState(err) ?? (err as { code?: string }).code, message: 'idle connection lost' } }, 'postgres: an idle admin connection was lost'));
        return { pool, target, source };
      })();
      conn = p;
      p.catch(() => {
        if (conn === p) conn = undefined;
      });
    }
    return conn;
  };

  /**
   * A login of pool `p` was refused: drops it, and the next pool uses the other admin URL, read
   * afresh. Only while `p` is still the pool: concurrent calls refused by the same pool all agree
   * on the next one, and a pool that already replaced it is kept.
   */
  const refused = (p: Promise<Connection>, c: Connection): void => {
    if (conn !== p) return;
    conn = undefined;
    freshUrl = true;
    nextSource = c.source === 'current' ? 'pending' : 'current';
    c.target.password.wipe();
    void c.pool.end().catch(() => undefined);
  };

  /** Runs `fn` on one admin connection within the timeout; a failure destroys the connection. */
  const run = async <T>(what: string, fn: (c: PoolClient, target: AdminTarget) => Promise<T>): Promise<T> => {
    live();
    let client!: PoolClient;
    let used!: { p: Promise<Connection>; c: Connection };
    // A refused login is tried again with the other admin URL (current or pending), and once more with
    // the first one read afresh: a pool on the pending URL refused after a finished rotation, whose
    // current URL is refused too when the next rotation has ALTERed, reaches the new pending one. The
    // third login only when the second used another URL than the first: with nothing pending, both
    // used the current one, and a third would repeat the second.
    const sources: UrlSource[] = [];
    for (;;) {
      let pool: { p: Promise<Connection>; c: Connection } | undefined;
      try {
        const p = connect();
        pool = { p, c: await p };
        sources.push(pool.c.source);
        client = await pool.c.pool.connect();
        used = pool;
        break;
      } catch (err) {
        const auth = isAuthFailure(err);
        if (auth && pool) refused(pool.p, pool.c);
        if (auth && (sources.length === 1 || (sources.length === 2 && sources[0] !== sources[1]))) continue;
        log.warn({ what, err }, 'postgres: could not connect with the admin login');
        throw toBrokerError(err, name, what);
      }
    }
    const target = used.c.target;
    if (!publicChecked) {
      publicChecked = true;
      void warnAboutPublic(client, target).catch(() => {
        publicChecked = false;
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BrokerError('unavailable', `backend "${name}" (postgres) is unavailable: could not ${what} within ${timeoutMs} ms`)), timeoutMs);
    });
    let failure: Error | undefined;
    try {
      return await Promise.race([fn(client, target), deadline]);
    } catch (err) {
      failure = err instanceof Error ? err : new Error('postgres operation failed');
      if (isAuthFailure(err)) refused(used.p, used.c);
      throw toBrokerError(err, name, what);
    } finally {
      clearTimeout(timer);
      // A connection that failed or timed out mid-statement is not reused.
      client.release(failure);
    }
  };

  // Every role inherits PUBLIC's rights: the README asks operators to revoke these two. And a superuser
  // admin can grant what no other login could, such as the system catalogs: the README advises against it.
  const warnAboutPublic = async (c: PoolClient, target: AdminTarget): Promise<void> => {
    // One query, queued on `c` before the caller's own statements: `c` goes back to the pool when the caller is
    // done, so nothing may be sent on it after an await here.
    const lockTable = ddlLock ? `${escapeIdentifier(ddlLock.table.schema)}.${escapeIdentifier(ddlLock.table.table)}` : null;
    const r = await c.query<{ others: string[]; temp: boolean; superuser: boolean | null; create: string[]; prepared: number; lock_exists: boolean | null; lock_open: boolean | null }>(
      `SELECT ARRAY(SELECT datname::text FROM pg_database d WHERE d.datallowconn AND d.datname <> current_database()
                    AND has_database_privilege('public', d.oid, 'CONNECT') ORDER BY 1) AS others,
              has_database_privilege('public', current_database(), 'TEMP') AS temp,
              (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
              ARRAY(SELECT nspname::text FROM pg_namespace n WHERE has_schema_privilege('public', n.oid, 'CREATE') ORDER BY 1) AS create,
              current_setting('max_prepared_transactions')::int AS prepared,
              to_regclass($1::text) IS NOT NULL AS lock_exists,
              coalesce(has_table_privilege('public', to_regclass($1::text), 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'), false) AS lock_open`,
      [lockTable],
    );
    const row = r.rows[0];
    if (row) preparedPossible = row.prepared > 0;
    if (row && row.prepared > 0) {
      log.warn(
        { max_prepared_transactions: row.prepared },
        `postgres: max_prepared_transactions is ${row.prepared}, so a lease role can PREPARE a transaction that keeps its locks and uncommitted writes after its session ends; the broker rolls back those of its lease roles at their drop and when one holds its lock, but set max_prepared_transactions = 0 unless something else on this server needs it`,
      );
    }
    if (row?.superuser) {
      log.warn(
        { user: target.user },
        `postgres: the admin login ${target.user} is a superuser, so PostgreSQL checks nothing it grants a lease role; the README advises a CREATEROLE login that is not a superuser`,
      );
    }
    if (row && row.others.length > 0) {
      log.warn(
        { databases: row.others },
        `postgres: PUBLIC may CONNECT to other databases (${row.others.join(', ')}), so every lease role can too; run REVOKE CONNECT ON DATABASE <db> FROM PUBLIC on each`,
      );
    }
    // A lease role that may create objects where others' queries resolve names (schema public, before PostgreSQL 15)
    // can plant a function another lease role's session runs, as that role.
    if (row && row.create.length > 0) {
      log.warn(
        { schemas: row.create },
        `postgres: PUBLIC may CREATE in schema ${row.create.join(', ')}, so every lease role can too: one lease role can plant a function or view another's queries run as that role (with its grants, and taking locks in its name); run REVOKE CREATE ON SCHEMA <schema> FROM PUBLIC on each`,
      );
    }
    if (ddlLock && row) {
      const at = `${ddlLock.table.schema}.${ddlLock.table.table}`;
      if (!row.lock_exists) {
        log.error({ lock_table: at }, `postgres: lock_table ${at} does not exist, so every issue and revocation on this backend fails; create it, owned by the admin login and granted to no one (CREATE SCHEMA ${ddlLock.table.schema}; CREATE TABLE ${at} ())`);
      } else if (row.lock_open) {
        log.warn({ lock_table: at }, `postgres: PUBLIC holds a privilege on lock_table ${at} that lets every lease role lock it and hold up role changes; run REVOKE ALL ON ${at} FROM PUBLIC`);
      }
    }
    if (row?.temp) log.warn({ database: target.database }, `postgres: PUBLIC may create TEMP tables in ${target.database}, so every lease role can too; run REVOKE TEMP ON DATABASE ${target.database} FROM PUBLIC`);
  };

  const checkHandle = (handle: CredentialHandle): string => {
    if (!handle || handle.backend !== name) throw new BrokerError('invalid_argument', `handle.backend: expected "${name}"`);
    if (typeof handle.id !== 'string' || !ownName.test(handle.id)) {
      throw new BrokerError('invalid_argument', `handle.id: expected a role name of this backend ("${cfg.rolePrefix}" and ${RANDOM_HEX} hex digits)`);
    }
    return handle.id;
  };

  /**
   * Runs role DDL that takes the role-DDL lock (DDL_LOCK_KEY). pg_advisory_lock is open to every role,
   * so a lease role may take that key and keep it from an idle session: every issue and revoke on the
   * server would wait for it. When a lock wait passes lock_timeout, the sessions of this backend's lease
   * roles that hold or await the key are ended (the admin takes membership in the role first, which ending
   * a session needs) and the statements run again; anyone else holding it is named in the log.
   */
  const withDdlLock = async (c: PoolClient, sql: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      // A lease role that takes the key and lets it go before lock_timeout, again and again, would slow every
      // role change without ever being found: a statement still running after WATCH_MS has the holders looked up.
      const watch = setTimeout(() => watchLock((c as unknown as { processID?: number | null }).processID ?? undefined), watchMs);
      try {
        await c.query(sql);
        return;
      } catch (err) {
        if (sqlState(err) !== LOCK_NOT_AVAILABLE || attempt >= 3 || closed) throw err;
        if ((await endLockHoldersSerially(c, false)) === 0) throw err;
      } finally {
        clearTimeout(watch);
      }
    }
  };
  /**
   * After this long (50 ms), a statement that takes the role-DDL key and is blocked has the key's holders looked
   * up. Short, because a lease role at the key is always misuse (no false positive to fear), and each slow
   * statement costs only one pg_blocking_pids check when nothing blocks it.
   */
  const watchMs = Math.min(50, Math.floor(lockTimeoutMs / 2));
  let watching = false;
  /**
   * On another connection (the waiting one is busy): when the waiting session (`pid`) is blocked by a lock
   * (not merely slow: a large batch), ends and reports the lease roles at the key, if any; says nothing of others.
   */
  const watchLock = (pid: number | undefined): void => {
    if (closed || watching) return;
    watching = true;
    void run('look for lease roles at the role-DDL lock', async (c) => {
      if (pid !== undefined && !(await c.query<{ blocked: boolean }>('SELECT cardinality(pg_blocking_pids($1)) > 0 AS blocked', [pid])).rows[0]?.blocked) return 0;
      return endLockHoldersSerially(c, true);
    })
      .catch((err: unknown) => log.debug({ err }, 'postgres: could not look for lease roles at the role-DDL lock'))
      .finally(() => {
        watching = false;
      });
  };
  /** One at a time: two at once would update the same roles' rows (NOLOGIN) and one would fail. */
  let ending: Promise<unknown> = Promise.resolve();
  const endLockHoldersSerially = (c: PoolClient, quiet: boolean): Promise<number> => {
    const p = ending.then(
      () => endLockHolders(c, quiet),
      () => endLockHolders(c, quiet),
    );
    ending = p.catch(() => undefined);
    return p;
  };
  /**
   * Rolls back prepared transactions of this backend's lease roles (their locks and uncommitted writes would
   * outlive the session and the role). Only the owner or a superuser may: the admin takes membership in the
   * role and runs it as the role (SET ROLE), one at a time (ROLLBACK PREPARED runs outside any transaction).
   * One that is gone meanwhile (committed or rolled back) is skipped.
   */
  const rollbackPrepared = async (c: PoolClient, xacts: ReadonlyArray<{ gid: string; owner: string }>): Promise<void> => {
    const byOwner = new Map<string, string[]>();
    for (const x of xacts) if (ownName.test(x.owner)) byOwner.set(x.owner, [...(byOwner.get(x.owner) ?? []), x.gid]);
    for (const [owner, gids] of byOwner) {
      try {
        await c.query(adminMembershipSql([owner]));
      } catch (err) {
        // Dropped meanwhile: its prepared transactions can no longer be ended by anyone but a superuser.
        if (sqlState(err) !== UNDEFINED_OBJECT) throw err;
        log.error({ role: owner, gids }, `postgres: lease role ${owner} is gone with prepared transactions left; a superuser must end them (ROLLBACK PREPARED)`);
        continue;
      }
      for (const gid of gids) {
        try {
          await c.query(setRoleSql(owner));
          await c.query(rollbackPreparedSql(gid));
          log.warn({ role: owner, gid }, `postgres: rolled back a prepared transaction of lease role ${owner}`);
        } catch (err) {
          log.warn({ role: owner, gid, err }, `postgres: could not roll back a prepared transaction of lease role ${owner}`);
        } finally {
          // A connection left as the lease role must never be reused: if this fails, the error destroys it (run).
          await c.query('RESET ROLE');
        }
      }
    }
  };
  /** Of `roles`, those that exist. */
  const existingRoles = async (c: PoolClient, roles: readonly string[]): Promise<string[]> =>
    (await c.query<{ rolname: string }>('SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1::text[])', [roles])).rows.map((r) => r.rolname);
  /** The prepared transactions these roles own, in any database (only those in this one can be rolled back here). */
  const preparedOf = async (c: PoolClient, roles: readonly string[]): Promise<Array<{ gid: string; owner: string }>> =>
    (await c.query<{ gid: string; owner: string }>(preparedOfSql(), [roles])).rows;
  /**
   * NOLOGIN, membership and ending sessions for `roles`, which a lease role can hold up by locking its own role
   * row, also from a prepared transaction (no session to end): on a lock wait, their prepared transactions are
   * rolled back and it runs again.
   */
  const disableRoles = async (c: PoolClient, roles: readonly string[]): Promise<void> => {
    const off = (rs: readonly string[]): string => `${adminMembershipSql(rs)};\n${terminateSql(rs)};\n${loginOffSql(rs)}`;
    try {
      await c.query(off(roles));
    } catch (err) {
      if (sqlState(err) === UNDEFINED_OBJECT) {
        // A role dropped meanwhile (its sessions are gone with it) rolled the others back: they go again alone.
        const left = await existingRoles(c, roles);
        if (left.length > 0) await disableRoles(c, left);
        return;
      }
      if (sqlState(err) !== LOCK_NOT_AVAILABLE || !preparedPossible || closed) throw err;
      await rollbackPrepared(c, await preparedOf(c, roles));
      await c.query(off(roles));
    }
  };

  const endLockHolders = async (c: PoolClient, quiet = false): Promise<number> => {
    const found = (await c.query<{ pid: number | null; role: string | null; app: string | null; granted: boolean; gid: string | null }>(lockHoldersSql(ddlLock))).rows;
    // Another postgres backend's lease roles (same server, other prefix) are its to deal with.
    let peers = 0;
    const rows: typeof found = [];
    for (const r of found) {
      if (r.role !== null && !ownName.test(r.role) && deps.peerLockHolder && (await deps.peerLockHolder(r.role).catch(() => false))) peers += 1;
      else rows.push(r);
    }
    const lease = rows.filter((r) => r.role !== null && ownName.test(r.role));
    for (const r of rows.filter((x) => !quiet && !lease.includes(x) && x.granted)) {
      if (r.gid !== null) {
        log.warn({ gid: r.gid, owner: r.role }, `postgres: the ${lockName} is held by a prepared transaction of ${r.role ?? 'a dropped role'} that is not a lease role of this backend; role changes wait until it is committed or rolled back (ROLLBACK PREPARED)`);
      } else {
        log.warn({ pid: r.pid, user: r.role, application: r.app }, `postgres: the ${lockName} is held by a session that is not a lease role of this backend; role changes wait for it`);
      }
    }
    const roles = [...new Set(lease.map((r) => r.role!))];
    if (roles.length === 0) return peers;
    for (const role of roles) {
      log.warn(
        { role },
        `postgres: lease role ${role} held or awaited the ${lockName}; its login is disabled (NOLOGIN) and its sessions are ended, so it cannot take the lock again; its lease is reported to the broker`,
      );
    }
    await disableAndReport(c, roles, lease.filter((r) => r.gid !== null).map((r) => ({ gid: r.gid!, owner: r.role! })));
    return roles.length + peers;
  };
  /**
   * Lease roles found at the role-DDL lock: `prepared` (transactions holding it, with no session to end) are
   * rolled back first, as they may also hold their role's row, which NOLOGIN would wait for; then the roles are
   * disabled (disableRoles). Each is reported even when that failed: its lease ends too, and its agent's trust
   * is lowered (src/broker/credential-misuse.ts).
   */
  const disableAndReport = async (c: PoolClient, roles: readonly string[], prepared: ReadonlyArray<{ gid: string; owner: string }>): Promise<void> => {
    try {
      await rollbackPrepared(c, prepared);
      await disableRoles(c, roles);
    } finally {
      for (const role of roles) {
        try {
          deps.onMisuse?.(role, `held or awaited the broker's ${lockName} in PostgreSQL`);
        } catch (err) {
          log.error({ err, role }, 'postgres: could not report a lease role that took the role-DDL lock');
        }
      }
    }
  };

  /**
   * Creates go out in rounds, like group commit: the first at once, and those
   * that arrive while a round runs go together in the next one, as one
   * transaction (createRolesSql). A round the server refuses is retried one
   * role at a time, so a bad spec fails alone.
   */
  const waitingCreates: CreateJob[] = [];
  let creating = false;
  const submitCreate = (spec: Omit<RoleSpec, 'database'>): Promise<AdminTarget> =>
    new Promise<AdminTarget>((resolve, reject) => {
      waitingCreates.push({ spec, resolve, reject });
      if (!creating) void drainCreates();
    });
  const drainCreates = async (): Promise<void> => {
    creating = true;
    try {
      while (waitingCreates.length > 0) await createRound(waitingCreates.splice(0, CREATE_BATCH));
    } finally {
      creating = false;
    }
  };
  const createRound = async (jobs: readonly CreateJob[]): Promise<void> => {
    let maybeLeft = false;
    let serverRefused = false;
    let fit: readonly CreateJob[] = jobs;
    try {
      const target = await run(jobs.length === 1 ? 'issue a credential' : 'issue credentials', async (c, t) => {
        fit = await withinBudget(c, jobs);
        if (fit.length === 0) return t;
        maybeLeft = true;
        try {
          await withDdlLock(c, createRolesSql(fit.map((j) => ({ ...j.spec, database: t.database })), ddlLock));
        } catch (err) {
          // The server answered with an error: the implicit transaction rolled back, nothing exists.
          if (sqlState(err)) {
            maybeLeft = false;
            // A lock that stayed held refuses every spec alike: no point trying them one by one.
            serverRefused = sqlState(err) !== LOCK_NOT_AVAILABLE;
          }
          throw err;
        }
        return t;
      });
      for (const j of fit) j.resolve(target);
    } catch (err) {
      // Only a round the server refused is split (one spec may be bad); a server that could not be
      // reached or timed out would fail each role again, one connection attempt per role.
      if (fit.length > 1 && serverRefused && !closed) {
        await Promise.all(fit.map((j) => createRound([j])));
        return;
      }
      for (const j of fit) j.reject({ err, maybeLeft });
    }
  };

  /**
   * The connection budget of lease roles (max_lease_connections): the creates that fit in what this
   * backend's roles that may log in leave of it, in order; the others are refused here, before anything
   * is created. Without it, one agent's leases could take every connection slot the server has for
   * non-superusers, and the broker could not connect to revoke them. One create round runs at a time,
   * so what is counted is what the round adds to.
   */
  let derivedBudget: number | undefined;
  const budget = new ConnectionBudget();
  const withinBudget = async (c: PoolClient, jobs: readonly CreateJob[]): Promise<readonly CreateJob[]> => {
    const limit = cfg.maxLeaseConnections ?? (derivedBudget ??= await deriveBudget(c));
    const need = jobs.reduce((n, j) => n + j.spec.connectionLimit, 0);
    // The count kept here never falls below what the server holds (see ConnectionBudget): the server
    // is asked only when the round might not fit, and its answer is what refuses.
    if (budget.estimate === undefined || budget.estimate + need > limit) {
      budget.exact((await c.query<{ used: number }>(leaseConnectionsSql(), [ownName.source])).rows[0]?.used ?? 0);
    }
    const used = budget.estimate!;
    let room = limit - used;
    const fit: CreateJob[] = [];
    for (const j of jobs) {
      if (j.spec.connectionLimit <= room) {
        room -= j.spec.connectionLimit;
        fit.push(j);
      } else {
        j.reject({
          err: new BrokerError(
            'resource_exhausted',
            `backend "${name}" (postgres): its lease roles may hold ${limit} connections together (max_lease_connections) and hold ${used}; a role with CONNECTION LIMIT ${j.spec.connectionLimit} does not fit`,
          ),
          maybeLeft: false,
        });
      }
    }
    // Counted before the statements go out: a role whose create fails or is unknown is dropped through dropRoles.
    for (const j of fit) budget.created(j.spec.role, j.spec.connectionLimit);
    return fit;
  };
  const deriveBudget = async (c: PoolClient): Promise<number> => {
    const open = (await c.query<{ open: number }>(openSlotsSql())).rows[0]?.open ?? 0;
    const budget = Math.max(1, Math.floor(open / 2));
    log.info(
      { backend: name, max_lease_connections: budget, server_slots: open },
      `postgres: lease roles may hold ${budget} connections together, half of the server's ${open} connection slots open to non-superusers (set max_lease_connections to change it)`,
    );
    return budget;
  };

  const dropRoles = async (roles: readonly string[]): Promise<void> => {
    await run(roles.length === 1 ? 'revoke a credential' : 'revoke credentials', async (c) => {
      let existing = [...roles];
      try {
        await noLogin(c, existing);
      } catch (err) {
        // Some are gone already (revoked before, or never created): those count as revoked.
        if (sqlState(err) !== UNDEFINED_OBJECT) throw err;
        existing = await existingRoles(c, roles);
        if (existing.length > 0) await noLogin(c, existing);
      }
      if (existing.length > 0 && preparedPossible) {
        // Their prepared transactions would keep their locks and uncommitted writes after the drop (with no
        // owner left to roll them back): their sessions end first (none can start after NOLOGIN), then those go.
        const res = (await c.query(endSessionsListPreparedSql(existing))) as unknown as Array<{ rows: Array<{ gid: string; owner: string; here: boolean }> }>;
        const listed = res[res.length - 1]?.rows ?? [];
        for (const x of listed.filter((r) => !r.here)) {
          log.error({ role: x.owner, gid: x.gid }, `postgres: lease role ${x.owner} has a prepared transaction in another database, which this backend cannot end; a superuser must (ROLLBACK PREPARED there)`);
        }
        await rollbackPrepared(c, listed.filter((r) => r.here));
      }
      // With prepared transactions possible, the drop itself refuses while one of theirs is left here (one prepared
      // after the listing, by a session that had not ended yet): the revocation is retried, and the next one ends it.
      if (existing.length > 0) await withDdlLock(c, dropRolesSql(existing, { noPrepared: preparedPossible, lock: ddlLock }));
      budget.dropped(roles);
    });
  };

  /**
   * Runs `sql`, which updates these roles' pg_authid rows (NOLOGIN, VALID UNTIL). Any role may lock its
   * own row (ALTER ROLE CURRENT_USER PASSWORD in an open transaction): when the statement waits past
   * lock_timeout, the roles' sessions are ended (which ends that transaction) and it runs again. So a
   * lease role can hold off neither its drop (step 1, NOLOGIN) nor a renewal, and its lock never reaches
   * the breaker.
   */
  const onOwnRows = async (c: PoolClient, roles: readonly string[], sql: string, what: string): Promise<void> => {
    try {
      await c.query(sql);
    } catch (err) {
      if (sqlState(err) !== LOCK_NOT_AVAILABLE || closed) throw err;
      log.warn({ roles }, `postgres: ${what} of a lease role waited on a lock (a session or a prepared transaction of the role may hold its role row); those are ended first`);
      await c.query(`${adminMembershipSql(roles)};\n${terminateSql(roles)}`);
      if (preparedPossible) await rollbackPrepared(c, await preparedOf(c, roles));
      await c.query(sql);
    }
  };
  /** Step 1 of a drop. */
  const noLogin = (c: PoolClient, roles: readonly string[]): Promise<void> => onOwnRows(c, roles, noLoginSql(roles), 'NOLOGIN');

  const backend: PostgresBackend = {
    kind: 'postgres',
    type: 'dynamic',
    name,

    plan(spec): CredentialHandle {
      live();
      checkSpec(spec);
      return planRole(cfg);
    },

    prepare(spec): PreparedSecret {
      live();
      checkSpec(spec);
      return prepareSecret(cfg);
    },

    async create(spec, lease, planned, prepared): Promise<IssuedCredential> {
      // Taken first, so every way out below either uses the prepared secret or wipes it.
      const made = PreparedScram.take(prepared, name);
      let handle: CredentialHandle;
      try {
        live();
        checkSpec(spec);
        if (!lease || !Number.isFinite(lease.expiresAt)) throw new BrokerError('invalid_argument', 'lease.expiresAt: expected ms since the epoch');
        if (lease.expiresAt <= clock.now()) throw new BrokerError('invalid_argument', 'lease.expiresAt: must be in the future');
        handle = planned ? { backend: name, id: checkHandle(planned) } : backend.plan(spec, lease);
      } catch (err) {
        void made?.then((m) => m.password.wipe(), () => undefined);
        throw err;
      }
      const role = handle.id;
      const { password, verifier } = await (made ?? makeScramSecret());
      // Whether the role might exist now: the statements went out and no rollback is certain.
      let maybeLeft = false;
      try {
        const target = await submitCreate({ role, verifier, validUntil: lease.expiresAt, connectionLimit: spec.connectionLimit, statementTimeoutMs: spec.statementTimeoutMs, grants: spec.grants }).catch(
          (f: CreateFailure) => {
            maybeLeft = f.maybeLeft;
            throw f.err;
          },
        );
        return {
          handle,
          credential: {
            kind: 'database',
            host: cfg.advertise?.host ?? target.host,
            port: cfg.advertise?.port ?? target.port,
            database: target.database,
            user: role,
            password,
          },
          expiresAt: lease.expiresAt,
          details: { role, grants: spec.grants.map((g) => ({ privilege: g.privilege, schema: g.schema, ...(g.table !== undefined ? { table: g.table } : {}) })) },
        };
      } catch (err) {
        password.wipe();
        const be = err instanceof BrokerError ? err : toBrokerError(err, name, 'issue a credential');
        if (maybeLeft) {
          const left = await dropRoles([role]).then(
            () => false,
            (dropErr: unknown) => {
              log.error({ role, err: dropErr }, 'postgres: could not drop the role of a failed create; the caller retries the revoke');
              return true;
            },
          );
          if (left) throw CredentialLeftError.wrap(be, handle);
        }
        throw be;
      }
    },

    async renew(handle, lease): Promise<{ expiresAt: number }> {
      live();
      const role = checkHandle(handle);
      const target = Math.min(lease.expiresAt, lease.maxExpiresAt);
      if (!Number.isFinite(target) || target <= clock.now()) throw new BrokerError('invalid_argument', 'lease.expiresAt: must be in the future and not past maxExpiresAt');
      await run('renew a credential', async (c) => {
        await onOwnRows(c, [role], validUntilSql(role, target), 'VALID UNTIL');
      });
      return { expiresAt: target };
    },

    async revoke(handle): Promise<void> {
      live();
      await dropRoles([checkHandle(handle)]);
    },

    async revokeMany(handles): Promise<string[]> {
      live();
      const roles = [...new Set(handles.map(checkHandle))];
      if (roles.length === 0) return [];
      try {
        await dropRoles(roles);
        return roles;
      } catch (err) {
        if (err instanceof BrokerError && err.kind === 'unavailable' && !(err instanceof ContentionError)) throw err;
        // One bad role fails the batch, or one whose drop waits on a lock another session holds (a large
        // object of it that another lease role keeps locked, say): drop them one by one to tell which are gone.
        const gone: string[] = [];
        // Each drop that waits on a lock costs a lock_timeout: after two in a row (the role-DDL key held by
        // someone else, say, not one role's object), the rest go back to the retry loop instead of each
        // waiting its turn (a trust drop's batch can hold a thousand roles).
        let contended = 0;
        for (const r of roles) {
          if (contended >= 2) break;
          await dropRoles([r]).then(
            () => {
              gone.push(r);
              contended = 0;
            },
            (e: unknown) => {
              contended = e instanceof ContentionError ? contended + 1 : 0;
              log.warn({ role: r, err: e }, 'postgres: could not drop a role');
            },
          );
        }
        return gone;
      }
    },

    async disableLockHolder(role): Promise<boolean> {
      live();
      if (!ownName.test(role)) return false;
      await run('disable a lease role at the role-DDL lock', async (c) => {
        log.warn({ role }, `postgres: lease role ${role} held or awaited the role-DDL lock of another backend on this server; its login is disabled (NOLOGIN), its sessions are ended, and its lease is reported to the broker`);
        // A role dropped meanwhile is no error here: rollbackPrepared and disableRoles skip it.
        await disableAndReport(c, [role], preparedPossible ? await preparedOf(c, [role]) : []);
      });
      return true;
    },

    async listIssued(): Promise<CredentialHandle[]> {
      live();
      const rows = await run('list its roles', async (c) => (await c.query<{ rolname: string }>(`SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1 ESCAPE '\\' ORDER BY 1`, [likePrefix(cfg.rolePrefix)])).rows);
      return rows.map((r) => r.rolname).filter((r) => ownName.test(r)).map((id) => ({ backend: name, id }));
    },

    async validate(spec): Promise<void> {
      live();
      checkSpec(spec);
      await run('check the admin login and the grants', async (c) => {
        const me = (await c.query<{ ok: boolean }>('SELECT rolsuper OR rolcreaterole AS ok FROM pg_roles WHERE rolname = current_user')).rows[0];
        if (!me?.ok) throw new BrokerError('failed_precondition', `backend "${name}" (postgres): the admin login may not create roles (it needs CREATEROLE)`);
        const schemas = spec.grants.map((g) => g.schema);
        const tables = spec.grants.map((g) => g.table ?? null);
        const missing = await c.query<{ schema: string; tbl: string | null }>(
          `SELECT s AS schema, t AS tbl FROM unnest($1::text[], $2::text[]) AS u(s, t)
            WHERE NOT CASE WHEN t IS NULL THEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s)
                           ELSE to_regclass(quote_ident(s) || '.' || quote_ident(t)) IS NOT NULL END`,
          [schemas, tables],
        );
        const m = missing.rows[0];
        if (m) throw new BrokerError('failed_precondition', `backend "${name}" (postgres): ${m.tbl ? `table ${m.schema}.${m.tbl}` : `schema ${m.schema}`} does not exist`);
        // A GRANT without the grant option fails (no privilege at all) or grants nothing (PostgreSQL only warns).
        // A schema-wide grant covers every table, view and foreign table in it (GRANT … ON ALL TABLES IN SCHEMA).
        const ungrantable = await c.query<{ what: string }>(
          `SELECT what FROM (
             SELECT i, CASE WHEN NOT has_schema_privilege(s, 'USAGE WITH GRANT OPTION') THEN 'USAGE on schema ' || s
                            ELSE p || ' on table ' || s || '.' || (
                              SELECT r.relname FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace
                               WHERE n.nspname = s AND (t IS NULL OR r.relname = t) AND r.relkind IN ('r', 'p', 'v', 'm', 'f')
                                 AND NOT has_table_privilege(r.oid, p || ' WITH GRANT OPTION')
                               ORDER BY r.relname LIMIT 1) END AS what
               FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(s, t, p, i)) x
            WHERE what IS NOT NULL ORDER BY i LIMIT 1`,
          [schemas, tables, spec.grants.map((g) => g.privilege)],
        );
        const u = ungrantable.rows[0];
        if (u) throw new BrokerError('failed_precondition', `backend "${name}" (postgres): the admin login may not grant ${u.what}`);
      });
    },

    async health(): Promise<void> {
      await run('answer a health check', async (c) => {
        await c.query('SELECT 1');
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const c = conn;
      conn = undefined;
      await c?.then(
        async (x) => {
          x.target.password.wipe();
          await x.pool.end();
        },
        () => undefined,
      );
    },
  };
  return backend;
}

interface ScramSecret {
  password: SecretValue;
  verifier: string;
}

/** A random password and its SCRAM-SHA-256 verifier (the PBKDF2 runs on libuv's pool). */
async function makeScramSecret(): Promise<ScramSecret> {
  const password = SecretValue.fromString(randomBytes(PASSWORD_BYTES).toString('base64url'));
  try {
    return { password, verifier: await scramSha256Verifier(password) };
  } catch (err) {
    password.wipe();
    throw err;
  }
}

/**
 * The secret `prepare` starts making while the broker records the planned
 * role: `create` takes it once (later takes and discards get nothing), and a
 * discard before that wipes the password.
 */
class PreparedScram implements PreparedSecret {
  #made: Promise<ScramSecret> | undefined;

  constructor(readonly backend: string) {
    const made = makeScramSecret();
    // A discarded secret whose PBKDF2 failed is nobody's error; create sees a failure through take.
    made.catch(() => undefined);
    this.#made = made;
  }

  /**
   * This backend's prepared secret, taken (undefined when there is none). Another backend's is
   * discarded: create owns what it is given.
   */
  static take(prepared: PreparedSecret | undefined, backend: string): Promise<ScramSecret> | undefined {
    if (!prepared) return undefined;
    if (!(prepared instanceof PreparedScram) || prepared.backend !== backend) {
      prepared.discard();
      return undefined;
    }
    const made = prepared.#made;
    prepared.#made = undefined;
    return made;
  }

  discard(): void {
    const made = this.#made;
    this.#made = undefined;
    void made?.then((m) => m.password.wipe(), () => undefined);
  }
}

/** Starts making the password and verifier of the next credential (no effect upstream); see PreparedSecret. */
export function prepareSecret(cfg: Pick<PostgresBackendConfig, 'name'>): PreparedSecret {
  return new PreparedScram(cfg.name);
}

/** A fresh role name for a lease (no effect upstream): the prefix and 32 random hex digits. */
export function planRole(cfg: Pick<PostgresBackendConfig, 'name' | 'rolePrefix'>): CredentialHandle {
  return { backend: cfg.name, id: `${cfg.rolePrefix}${randomBytes(RANDOM_HEX / 2).toString('hex')}` };
}

export function checkSpec(spec: PostgresSpec): void {
  if (!spec || typeof spec !== 'object') throw new BrokerError('invalid_argument', 'spec: expected { grants, connectionLimit, statementTimeoutMs }');
  if (!Array.isArray(spec.grants) || spec.grants.length === 0) throw new BrokerError('invalid_argument', 'spec.grants: expected a non-empty list');
  spec.grants.forEach((g, i) => {
    if (!g || !PRIVILEGES.has(g.privilege)) throw new BrokerError('invalid_argument', `spec.grants[${i}].privilege: expected one of SELECT, INSERT, UPDATE, DELETE`);
    if (typeof g.schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(g.schema)) throw new BrokerError('invalid_argument', `spec.grants[${i}].schema: expected a lower-case SQL identifier`);
    if (g.table !== undefined && (typeof g.table !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(g.table))) {
      throw new BrokerError('invalid_argument', `spec.grants[${i}].table: expected a lower-case SQL identifier`);
    }
  });
  if (!Number.isInteger(spec.connectionLimit) || spec.connectionLimit < 1 || spec.connectionLimit > 100) throw new BrokerError('invalid_argument', 'spec.connectionLimit: expected an integer from 1 to 100');
  if (!Number.isInteger(spec.statementTimeoutMs) || spec.statementTimeoutMs < 1 || spec.statementTimeoutMs > 86_400_000) {
    throw new BrokerError('invalid_argument', 'spec.statementTimeoutMs: expected an integer number of ms from 1 to 86400000');
  }
}
