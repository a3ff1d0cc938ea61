/**
 * The admin URL (`postgres://user:password@host:port/database[?sslmode=…]`),
 * read from another backend, parsed into what `pg` needs. The password stays a
 * SecretValue (pg asks for it per connection); no error names the URL or any
 * part of it but the field that is wrong.
 */
import { BrokerError } from '../../lib/errors';
import { SecretValue } from '../../lib/secret-value';

export interface AdminTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  password: SecretValue;
  /** false (sslmode=disable or absent) or verified TLS (any other sslmode: verification is never off). */
  ssl: false | { rejectUnauthorized: true; servername?: string };
}

const SSL_MODES: ReadonlySet<string> = Object.freeze(new Set(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']));

export function parseAdminUrl(url: SecretValue, backend: string): AdminTarget {
  const bad = (what: string): BrokerError =>
    new BrokerError('failed_precondition', `backend "${backend}" (postgres): the admin URL read from url_secret is not usable: ${what} (expected postgres://user:password@host:port/database)`);
  let u: URL;
  try {
    u = new URL(url.revealString());
  } catch {
    throw bad('it is not a URL');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw bad('the scheme is not postgres:// or postgresql://');
  if (!u.hostname) throw bad('it has no host');
  if (!u.username) throw bad('it has no user');
  if (!u.password) throw bad('it has no password');
  const port = u.port ? Number(u.port) : 5432;
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) throw bad('it names no database');
  const mode = u.searchParams.get('sslmode') ?? 'disable';
  if (!SSL_MODES.has(mode)) throw bad('sslmode is not one of disable, prefer, require, verify-ca, verify-full');
  for (const k of u.searchParams.keys()) if (k !== 'sslmode') throw bad(`the query parameter ${JSON.stringify(k)} is not supported (only sslmode)`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port,
    user: decodeURIComponent(u.username),
    database,
    password: SecretValue.fromString(decodeURIComponent(u.password)),
    ssl: mode === 'disable' ? false : { rejectUnauthorized: true, servername: host },
  };
}
