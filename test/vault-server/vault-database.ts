import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import type { EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { SYSTEM_MAX_TTL } from './vault-auth';
import { badRequest, base62, goDuration, parseDuration, rfc3339, VaultHttpError, type LogicalResponse } from './vault-http';

/**
 * The database secrets engine (mount `database`) with the PostgreSQL plugin,
 * and the leases it hands out (`sys/leases/*`). Each `database/creds/<role>`
 * read creates a REAL login role on the configured PostgreSQL, valid until
 * the lease expires; renewing moves its VALID UNTIL, revoking (or expiry,
 * swept by a timer like Vault's expiration manager) terminates its sessions
 * and drops it. Each lease remembers the token that created it: when that
 * token is revoked or expires, its leases are revoked too (Vault: "When a
 * token is revoked, Vault will revoke all leases that were created using that
 * token"); until the sweep has dropped the role, such a lease is already
 * unknown to renew and lookup.
 */

export interface DatabaseRoleOptions {
  /**
   * Statements creating the user, with Vault's templates `{{name}}`,
   * `{{password}}`, `{{expiration}}`. Default:
   * `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`
   */
  creationStatements?: readonly string[];
  /** Further statements run after creation, same templates (e.g. `GRANT SELECT ON t TO "{{name}}"`). */
  grants?: readonly string[];
  /** Seconds or a Vault duration; default 768h (the system default). */
  defaultTtl?: number | string;
  /** Seconds or a Vault duration; default 768h. */
  maxTtl?: number | string;
  namespace?: string;
}

interface DbRole {
  readonly name: string;
  readonly creation: readonly string[];
  readonly grants: readonly string[];
  readonly defaultTtl: number;
  readonly maxTtl: number;
}

export interface Lease {
  readonly id: string;
  readonly namespace: string;
  readonly role: string;
  readonly username: string;
  /** The id of the token whose request created the lease. */
  readonly tokenId: string;
  readonly issuedAt: number;
  readonly maxTtl: number;
  readonly defaultTtl: number;
  expiresAt: number;
  lastRenewal: number | undefined;
}

/** What `leases()` shows a test: never the password. */
export interface LeaseInfo {
  readonly leaseId: string;
  readonly namespace: string;
  readonly role: string;
  readonly username: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

const DEFAULT_CREATION = Object.freeze(["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"]);

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Vault's {{expiration}}: `2006-01-02 15:04:05-0700`, UTC. */
const pgExpiration = (ms: number): string => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)}+0000`;

/** Vault's default password policy: 20 characters, upper, lower, digit and a dash. */
function password(): string {
  const alnum = base62(19);
  const pos = randomBytes(1)[0]! % 19;
  const p = `${alnum.slice(0, pos)}-${alnum.slice(pos)}`;
  return /[A-Z]/.test(p) && /[a-z]/.test(p) && /\d/.test(p) ? p : password();
}

/** Vault's default username template: `v-<display 8>-<role 8>-<random 20>-<unix>`, at most 63 characters, lower-cased by PostgreSQL rules kept as is. */
function username(displayName: string, role: string, now: number): string {
  return `v-${displayName.slice(0, 8)}-${role.slice(0, 8)}-${base62(20)}-${Math.floor(now / 1000)}`.slice(0, 63);
}

export class VaultDatabase {
  private readonly roles = new Map<string, DbRole>();
  private readonly leases = new Map<string, Lease>();
  private readonly nsIds = new Map<string, string>();
  private pool: Pool | undefined;

  constructor(
    private readonly now: () => number,
    private readonly pg: EphemeralPostgres | undefined,
    /** Whether a token still lives (not revoked, not expired): a lease outlives its creating token never. */
    private readonly tokenLive: (tokenId: string) => boolean = () => true,
  ) {}

  /** A lease is revoked when it expires or when the token that created it ends. */
  private ended(l: Lease, now: number): boolean {
    return l.expiresAt <= now || !this.tokenLive(l.tokenId);
  }

  private db(): Pool {
    if (!this.pg) throw new VaultHttpError(500, ['1 error occurred:\n\t* no PostgreSQL connection configured for the database secrets engine\n\n']);
    if (!this.pool) {
      this.pool = new Pool({ host: this.pg.host, port: this.pg.port, user: this.pg.superuser, password: this.pg.password, database: this.pg.database, max: 4, connectionTimeoutMillis: 5000 });
      // An idle client whose server went away (an outage test) must not crash the process.
      this.pool.on('error', () => undefined);
    }
    return this.pool;
  }

  createRole(name: string, opts: DatabaseRoleOptions = {}): void {
    const defaultTtl = opts.defaultTtl === undefined ? SYSTEM_MAX_TTL : parseDuration('default_ttl', opts.defaultTtl);
    const maxTtl = opts.maxTtl === undefined ? SYSTEM_MAX_TTL : parseDuration('max_ttl', opts.maxTtl);
    this.roles.set(`${opts.namespace ?? ''}\0${name}`, { name, creation: opts.creationStatements ?? DEFAULT_CREATION, grants: opts.grants ?? [], defaultTtl: defaultTtl || SYSTEM_MAX_TTL, maxTtl: maxTtl || SYSTEM_MAX_TTL });
  }

  private leaseIdFor(namespace: string, role: string): string {
    let suffix = '';
    if (namespace) {
      let id = this.nsIds.get(namespace);
      if (!id) {
        id = base62(5);
        this.nsIds.set(namespace, id);
      }
      suffix = `.${id}`;
    }
    return `database/creds/${role}/${base62(24)}${suffix}`;
  }

  private async exec(statements: readonly string[], vars: Readonly<Record<string, string>>): Promise<void> {
    const client = await this.db().connect();
    try {
      await client.query('BEGIN');
      for (const s of statements) await client.query(s.replace(/\{\{(name|password|expiration)\}\}/g, (_, k: string) => vars[k]!));
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** `GET database/creds/<role>` */
  async creds(role: string, namespace: string, displayName: string, tokenId: string): Promise<LogicalResponse> {
    const r = this.roles.get(`${namespace}\0${role}`);
    if (!r) throw badRequest(`unknown role: ${role}`);
    const now = this.now();
    const ttl = Math.min(r.defaultTtl, r.maxTtl);
    const user = username(displayName, role, now);
    const pw = password();
    const expiresAt = now + ttl * 1000;
    try {
      await this.exec([...r.creation, ...r.grants], { name: user, password: pw, expiration: pgExpiration(expiresAt) });
    } catch (e) {
      throw new VaultHttpError(500, [`1 error occurred:\n\t* failed to create user: ${(e as Error).message.replace(pw, '[password]')}\n\n`]);
    }
    const lease: Lease = { id: this.leaseIdFor(namespace, role), namespace, role, username: user, tokenId, issuedAt: now, maxTtl: r.maxTtl, defaultTtl: r.defaultTtl, expiresAt, lastRenewal: undefined };
    this.leases.set(lease.id, lease);
    return { lease_id: lease.id, lease_duration: ttl, renewable: true, data: { username: user, password: pw } };
  }

  private live(leaseId: unknown, namespace: string, missing: string): Lease {
    if (typeof leaseId !== 'string' || leaseId === '') throw badRequest('lease_id must be specified');
    const l = this.leases.get(leaseId);
    // A lease whose token ended is being revoked: Vault no longer knows it.
    if (!l || l.namespace !== namespace || !this.tokenLive(l.tokenId)) throw badRequest(missing);
    return l;
  }

  /** `PUT sys/leases/renew`: increment (or the role's default TTL) from now, capped at issue + max TTL, with Vault's warning. */
  async renew(body: Record<string, unknown>, namespace: string): Promise<LogicalResponse> {
    const l = this.live(body['lease_id'], namespace, 'lease not found');
    const now = this.now();
    if (l.expiresAt <= now) throw badRequest('lease expired');
    const inc = body['increment'] === undefined || body['increment'] === null || body['increment'] === '' ? 0 : parseDuration('increment', body['increment']);
    const wanted = inc || l.defaultTtl;
    const maxLeft = Math.max(0, Math.floor((l.issuedAt + l.maxTtl * 1000 - now) / 1000));
    const ttl = Math.min(wanted, maxLeft);
    const warnings = ttl < wanted ? [`TTL of "${goDuration(wanted)}" exceeded the effective max_ttl of "${goDuration(maxLeft)}"; TTL value is capped accordingly`] : [];
    const expiresAt = now + ttl * 1000;
    try {
      await this.exec([`ALTER ROLE ${quoteIdent(l.username)} VALID UNTIL ${quoteLiteral(pgExpiration(expiresAt))}`], {});
    } catch (e) {
      // Vault's sys handlers answer a failed renew or revoke as ErrInvalidRequest: 400 with the error text.
      throw badRequest(`failed to renew entry: ${(e as Error).message}`);
    }
    l.expiresAt = expiresAt;
    l.lastRenewal = now;
    return { lease_id: l.id, lease_duration: ttl, renewable: true, warnings };
  }

  /**
   * `PUT sys/leases/revoke`: Vault answers 204 for an unknown or already
   * revoked lease id too (its expiration manager: "If there is no entry,
   * nothing to revoke"). A failure to drop the role keeps the lease and is
   * a 400 with the error text, as Vault's sys handlers answer it.
   */
  async revoke(leaseId: unknown, namespace: string): Promise<void> {
    if (typeof leaseId !== 'string' || leaseId === '') throw badRequest('lease_id must be specified');
    const l = this.leases.get(leaseId);
    if (!l || l.namespace !== namespace) return;
    try {
      await this.dropUser(l.username);
    } catch (e) {
      throw badRequest(`failed to revoke entry: ${(e as Error).message}`);
    }
    this.leases.delete(l.id);
  }

  private async dropUser(user: string): Promise<void> {
    const client = await this.db().connect();
    try {
      await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [user]);
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user]);
      if (exists.rowCount === 0) return;
      await client.query(`REASSIGN OWNED BY ${quoteIdent(user)} TO ${quoteIdent(this.pg!.superuser)}`);
      await client.query(`DROP OWNED BY ${quoteIdent(user)}`);
      await client.query(`DROP ROLE IF EXISTS ${quoteIdent(user)}`);
    } finally {
      client.release();
    }
  }

  /** `PUT sys/leases/lookup`: Vault's 400 "invalid lease" when unknown. */
  lookup(leaseId: unknown, namespace: string): LogicalResponse {
    const l = this.live(leaseId, namespace, 'invalid lease');
    return {
      data: {
        id: l.id,
        issue_time: rfc3339(l.issuedAt),
        expire_time: rfc3339(l.expiresAt),
        last_renewal: l.lastRenewal === undefined ? null : rfc3339(l.lastRenewal),
        renewable: true,
        ttl: Math.max(0, Math.round((l.expiresAt - this.now()) / 1000)),
      },
    };
  }

  /**
   * Revokes every expired lease, and every lease whose creating token was
   * revoked or expired (the expiration manager's timer). A failure is retried
   * on the next sweep.
   */
  async sweep(): Promise<void> {
    const now = this.now();
    for (const l of [...this.leases.values()]) {
      if (!this.ended(l, now)) continue;
      try {
        await this.dropUser(l.username);
        this.leases.delete(l.id);
      } catch {
        // PostgreSQL unreachable: try again next sweep, as Vault retries.
      }
    }
  }

  list(): LeaseInfo[] {
    return [...this.leases.values()].map((l) => ({ leaseId: l.id, namespace: l.namespace, role: l.role, username: l.username, issuedAt: new Date(l.issuedAt), expiresAt: new Date(l.expiresAt) }));
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.end().catch(() => undefined);
  }
}
