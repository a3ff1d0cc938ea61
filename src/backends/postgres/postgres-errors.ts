/**
 * pg and socket errors in our own words. The message names only the backend
 * and what the broker was doing; SQL error text (which can quote statements,
 * role names or server details) rides along as `cause` only, which is logged
 * server-side and never sent.
 *
 * - connection refused/reset/timed out, the server shutting down or starting,
 *   too many connections, a statement cancelled by its timeout, a
 *   serialization failure: `unavailable` (retrying may help);
 * - authentication failed, a missing privilege, a database, schema or table
 *   that does not exist: `failed_precondition` (the operator must fix it);
 * - anything else: `internal`.
 */
import { BrokerError, ContentionError, type ErrorKind } from '../../lib/errors';

/** SQLSTATE 55P03: a lock wait passed lock_timeout. */
export const LOCK_NOT_AVAILABLE = '55P03';

const UNAVAILABLE_CODES: ReadonlySet<string> = Object.freeze(
  new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']),
);

/** SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57 operator intervention (57P01 admin shutdown…), 40 transaction rollback. */
const UNAVAILABLE_CLASSES: ReadonlySet<string> = Object.freeze(new Set(['08', '53', '57', '40', '58']));
/** 28 invalid authorization, 42501 insufficient privilege, 3D000 no such database, 3F000 no such schema, 42P01 no such table, 42704 no such object. */
const PRECONDITION_CLASSES: ReadonlySet<string> = Object.freeze(new Set(['28', '3D', '3F']));
const PRECONDITION_CODES: ReadonlySet<string> = Object.freeze(new Set(['42501', '42P01', '42704', '42710']));

/** The SQLSTATE of a server error, if `err` is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** An authentication failure: the admin URL may have changed (rotated), so it is read again. */
export function isAuthFailure(err: unknown): boolean {
  const s = sqlState(err);
  return s !== undefined && s.startsWith('28');
}

export function kindOf(err: unknown): ErrorKind {
  if (err instanceof BrokerError) return err.kind;
  const state = sqlState(err);
  if (state) {
    if (state === '57014') return 'unavailable'; // statement timeout / cancelled
    if (state === LOCK_NOT_AVAILABLE) return 'unavailable'; // lock_timeout: another session holds a lock the statement needs
    if (PRECONDITION_CODES.has(state) || PRECONDITION_CLASSES.has(state.slice(0, 2))) return 'failed_precondition';
    if (UNAVAILABLE_CLASSES.has(state.slice(0, 2))) return 'unavailable';
    return 'internal';
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return 'unavailable';
  const message = err instanceof Error ? err.message : '';
  // pg's own client-side failures: connect timeout, query timeout, a connection that ended under a query.
  if (/timeout|terminated|Connection ended|not queryable|ended unexpectedly|the backend is closed/i.test(message)) return 'unavailable';
  return 'internal';
}

/** `err` as a BrokerError naming `backend` and what failed, never the server's text. */
export function toBrokerError(err: unknown, backend: string, what: string): BrokerError {
  if (err instanceof BrokerError) return err;
  if (sqlState(err) === LOCK_NOT_AVAILABLE) {
    return new ContentionError(`backend "${backend}" (postgres) could not ${what}: a lock it needs is held by another session (the broker log names what it finds)`, { cause: err });
  }
  const kind = kindOf(err);
  const message =
    kind === 'unavailable'
      ? `backend "${backend}" (postgres) is unavailable: could not ${what}`
      : kind === 'failed_precondition'
        ? `backend "${backend}" (postgres) refused to ${what}: check the admin login's rights and the configured grants (the broker log has the detail)`
        : `backend "${backend}" (postgres) failed to ${what}`;
  return new BrokerError(kind, message, { cause: err });
}
