/**
 * The statements that make and drop one lease's role. Identifiers are always
 * quoted with pg's escapeIdentifier, literals with escapeLiteral; privileges
 * come from a fixed allow list; nothing is ever granted WITH GRANT OPTION, and
 * the role is never made a member of another role.
 */
import { escapeIdentifier as q, escapeLiteral as lit } from 'pg';
import type { PostgresGrant } from '../../config/config-types';

export const PRIVILEGES: ReadonlySet<string> = Object.freeze(new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE']));

export interface RoleSpec {
  role: string;
  /** The SCRAM-SHA-256 verifier, never the password. */
  verifier: string;
  database: string;
  validUntil: number;
  connectionLimit: number;
  statementTimeoutMs: number;
  grants: readonly PostgresGrant[];
}

const timestamp = (ms: number): string => lit(new Date(ms).toISOString());

/**
 * Role DDL of this broker runs one transaction at a time per server: concurrent GRANTs on one
 * object (the database, a schema, a table) and DROP OWNED of roles granted on it update the same
 * ACL tuple, and PostgreSQL fails one of them with "tuple concurrently updated" (XX000) instead
 * of waiting. A transaction-scoped advisory lock (released at commit or rollback) makes them wait.
 * The key is a constant ("sbrole" in ASCII).
 */
export const DDL_LOCK_KEY = 0x73_62_72_6f_6c_65;
/** The role-DDL lock: the advisory key by default, or a table only the admin may lock (`lock_table`), which no lease role can take. */
export type DdlLock = { table: { schema: string; table: string } } | undefined;
const ddlLockSql = (lock: DdlLock): string =>
  lock ? `LOCK TABLE ${q(lock.table.schema)}.${q(lock.table.table)} IN SHARE ROW EXCLUSIVE MODE` : `SELECT pg_advisory_xact_lock(${DDL_LOCK_KEY})`;
/** How the log names the role-DDL lock. */
export const ddlLockName = (lock: DdlLock): string => (lock ? `lock table ${lock.table.schema}.${lock.table.table}` : `role-DDL lock (advisory key 0x${DDL_LOCK_KEY.toString(16)})`);

/**
 * Who holds or waits for the role-DDL lock in this database, other than this session. An advisory
 * lock on a bigint key shows in pg_locks as classid (high 32 bits), objid (low 32 bits), objsubid 1.
 */
export function lockHoldersSql(lock?: DdlLock): string {
  const key = BigInt(DDL_LOCK_KEY);
  const ours = lock
    ? `l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.relation = to_regclass(${lit(`${q(lock.table.schema)}.${q(lock.table.table)}`)})`
    : `l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.classid = ${key >> 32n} AND l.objid = ${key & 0xffffffffn} AND l.objsubid = 1`;
  // A prepared transaction (PREPARE TRANSACTION) holds its locks with no session: pid is NULL, and its
  // owner is found through the transactionid lock of the same virtual transaction (gid: to roll it back).
  return `SELECT l.pid, a.usename::text AS role, a.application_name::text AS app, l.granted, NULL::text AS gid
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE ${ours} AND l.pid <> pg_backend_pid()
UNION ALL
SELECT NULL, p.owner::text, NULL, l.granted, p.gid::text
  FROM pg_locks l
  JOIN pg_locks t ON t.locktype = 'transactionid' AND t.virtualtransaction = l.virtualtransaction AND t.pid IS NULL
  JOIN pg_prepared_xacts p ON p.transaction = t.transactionid
 WHERE ${ours} AND l.pid IS NULL`;
}

/**
 * Ends these roles' sessions, then lists their prepared transactions (PREPARE TRANSACTION) in this database:
 * a prepared transaction outlives its session and its role, with its locks and its uncommitted writes.
 */
export function endSessionsListPreparedSql(roles: readonly string[]): string {
  return `${terminateSql(roles)};\nSELECT gid::text, owner::text, database = current_database() AS here FROM pg_prepared_xacts WHERE owner IN (${roles.map(lit).join(', ')})`;
}

/** The prepared transactions of the roles $1 (a text array) in this database. */
export function preparedOfSql(): string {
  return `SELECT gid::text, owner::text FROM pg_prepared_xacts WHERE owner = ANY($1::text[]) AND database = current_database()`;
}

/** Run alone, one at a time (never in a transaction block), as the owner: `SET ROLE`, `ROLLBACK PREPARED`, then `RESET ROLE`. */
export const setRoleSql = (role: string): string => `SET ROLE ${q(role)}`;
export const rollbackPreparedSql = (gid: string): string => `ROLLBACK PREPARED ${lit(gid)}`;

/** One string of statements, run as one implicit transaction (simple query protocol): all or nothing, one round trip. */
export function createRoleSql(r: RoleSpec, lock?: DdlLock): string {
  return createRolesSql([r], lock);
}

/**
 * The roles of several leases in one transaction: each role is created alone,
 * then the grants go out once per object, to all the roles that have it
 * (`GRANT … TO a, b, c`), so a shared ACL is rewritten once per batch instead
 * of once per role. What each role receives is exactly its own list.
 */
export function createRolesSql(specs: readonly RoleSpec[], lock?: DdlLock): string {
  const out: string[] = [];
  for (const r of specs) {
    out.push(
      `CREATE ROLE ${q(r.role)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS ` +
        `CONNECTION LIMIT ${Math.trunc(r.connectionLimit)} VALID UNTIL ${timestamp(r.validUntil)} PASSWORD ${lit(r.verifier)}`,
    );
  }
  // A new pg_authid row conflicts with nothing; the GRANTs after it update shared ACLs.
  out.push(ddlLockSql(lock));
  for (const r of specs) out.push(`ALTER ROLE ${q(r.role)} SET statement_timeout = ${Math.trunc(r.statementTimeoutMs)}`);
  // Grant target -> the roles that get it, in first-seen order.
  const grants = new Map<string, string[]>();
  const give = (what: string, role: string): void => {
    const to = grants.get(what);
    if (to) {
      if (!to.includes(role)) to.push(role);
    } else grants.set(what, [role]);
  };
  for (const r of specs) {
    const role = q(r.role);
    give(`CONNECT ON DATABASE ${q(r.database)}`, role);
    for (const schema of new Set(r.grants.map((g) => g.schema))) give(`USAGE ON SCHEMA ${q(schema)}`, role);
    for (const g of r.grants) {
      if (!PRIVILEGES.has(g.privilege)) throw new Error(`privilege ${JSON.stringify(g.privilege)} is not allowed`);
      give(`${g.privilege} ON ${g.table !== undefined ? `TABLE ${q(g.schema)}.${q(g.table)}` : `ALL TABLES IN SCHEMA ${q(g.schema)}`}`, role);
    }
  }
  for (const [what, roles] of grants) out.push(`GRANT ${what} TO ${roles.join(', ')}`);
  return out.join(';\n');
}

export function validUntilSql(role: string, until: number): string {
  return `ALTER ROLE ${q(role)} VALID UNTIL ${timestamp(until)}`;
}

/**
 * Ends every session of these roles now. pg_terminate_backend signals at once (it is not held to the
 * transaction), and needs the privileges of the role: the admin's membership (noLoginSql grants it).
 */
export function terminateSql(roles: readonly string[]): string {
  return `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (${roles.map(lit).join(', ')}) AND pid <> pg_backend_pid()`;
}

/** The admin takes membership in these lease roles (never the other way round): ending their sessions and DROP OWNED need it. */
export function adminMembershipSql(roles: readonly string[]): string {
  return `GRANT ${roles.map(q).join(', ')} TO CURRENT_USER`;
}

/**
 * Step 1 of a drop: no new logins (committed before step 2 ends the sessions, so none slips in between).
 * The admin first takes membership in the (dying) roles: DROP OWNED needs the privileges of the role, and so
 * does ending its sessions, which a CREATEROLE admin that is not superuser lacks otherwise. The lease role
 * itself never becomes a member of anything. NOLOGIN may wait on a lock a session of the role holds on its
 * own pg_authid row; the backend then ends the role's sessions and runs this again (postgres-backend noLogin).
 */
export function noLoginSql(roles: readonly string[]): string {
  return [adminMembershipSql(roles), loginOffSql(roles)].join(';\n');
}

/** The roles can no longer log in (sessions already open stay). */
export function loginOffSql(roles: readonly string[]): string {
  return roles.map((r) => `ALTER ROLE ${q(r)} NOLOGIN`).join(';\n');
}

/**
 * From this many roles on, a drop revokes shared grants first (revokeSharedGrantsSql). Below it,
 * planning that block costs the server more than the ACL rewrites it saves.
 */
const SHARED_REVOKE_MIN = 16;

/** Step 2: end their sessions, then under the lock drop what they own and their privileges (DROP OWNED), then the roles. */
export function dropRolesSql(roles: readonly string[], opts: { noPrepared?: boolean; lock?: DdlLock } = {}): string {
  const list = roles.map(q).join(', ');
  return [
    // Sessions end before the lock is awaited: a lease role can take that advisory key too (it is open to
    // every role), and a session of a dying role must not hold off its own end.
    terminateSql(roles),
    ...(opts.noPrepared
      ? [
          `DO $sb_prepared$ BEGIN IF EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE owner IN (${roles.map(lit).join(', ')}) AND database = current_database()) THEN
  RAISE EXCEPTION USING ERRCODE = 'object_in_use', MESSAGE = 'a lease role still has a prepared transaction here';
END IF; END $sb_prepared$`,
        ]
      : []),
    ddlLockSql(opts.lock),
    ...(roles.length >= SHARED_REVOKE_MIN ? [revokeSharedGrantsSql(roles)] : []),
    `DROP OWNED BY ${list}`,
    `DROP ROLE IF EXISTS ${list}`,
  ].join(';\n');
}

/**
 * For a batch: first one REVOKE per object the roles hold privileges on (found
 * through pg_shdepend), from all of them at once. DROP OWNED BY of many roles
 * granted on the same objects rewrites each object's ACL once per role (about
 * 0.8 s for 1,000 roles on one table, schema and database); one REVOKE per
 * object rewrites it once (about 0.15 s). A REVOKE that fails (an object gone
 * meanwhile, a privilege another role granted) is skipped: DROP OWNED after it
 * removes whatever is left, as before.
 */
function revokeSharedGrantsSql(roles: readonly string[]): string {
  const names = `ARRAY[${roles.map(lit).join(', ')}]::text[]`;
  const deps = `FROM pg_shdepend d WHERE d.deptype = 'a' AND d.refclassid = 'pg_authid'::regclass
      AND d.refobjid IN (SELECT oid FROM pg_roles WHERE rolname = ANY(${names}))`;
  const here = `(SELECT oid FROM pg_database WHERE datname = current_database())`;
  return `DO $sb_revoke$
DECLARE
  grantees constant text := ${lit(roles.map(q).join(', '))};
  stmt text;
BEGIN
  FOR stmt IN
    SELECT format('REVOKE ALL ON %s %s FROM %s', CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass, grantees)
      FROM pg_class c WHERE c.oid IN (SELECT d.objid ${deps} AND d.classid = 'pg_class'::regclass AND d.dbid = ${here})
    UNION ALL
    SELECT format('REVOKE ALL ON SCHEMA %I FROM %s', n.nspname, grantees)
      FROM pg_namespace n WHERE n.oid IN (SELECT d.objid ${deps} AND d.classid = 'pg_namespace'::regclass AND d.dbid = ${here})
    UNION ALL
    SELECT format('REVOKE ALL ON DATABASE %I FROM %s', db.datname, grantees)
      FROM pg_database db WHERE db.oid IN (SELECT d.objid ${deps} AND d.classid = 'pg_database'::regclass)
  LOOP
    BEGIN
      EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
  END LOOP;
END
$sb_revoke$`;
}

/** The sum of the CONNECTION LIMITs of the roles that may log in and whose names match $1 (a regular expression). */
export function leaseConnectionsSql(): string {
  return `SELECT coalesce(sum(rolconnlimit), 0)::int AS used FROM pg_roles WHERE rolcanlogin AND rolconnlimit > 0 AND rolname ~ $1`;
}

/** The server's connection slots open to non-superusers (reserved_connections exists from PostgreSQL 16 on). */
export function openSlotsSql(): string {
  return `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
       - coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS open`;
}

/** `LIKE` pattern for names starting with `prefix` exactly ("_" and "%" are wildcards otherwise; "\\" escapes). */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
