import { randomUUID } from 'node:crypto';
import { badRequest, base62, denied, goDuration, parseDuration, PERMISSION_DENIED_TOKEN, rfc3339, type LogicalResponse } from './vault-http';

/**
 * Tokens, ACL policies and AppRole, as far as the broker uses them.
 *
 * Policies are path rules with capabilities, matched like Vault's HCL
 * policies: an exact path, or a prefix ending in `*`. `root` allows
 * everything; `default` is Vault's default policy (lookup/renew/revoke self,
 * renew and look up leases) and every non-root token carries it unless told
 * otherwise.
 */

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo' | 'deny';
export type PathRules = Readonly<Record<string, readonly Capability[]>>;

/** Vault's system max lease TTL (32 days) caps every token and lease. */
export const SYSTEM_MAX_TTL = 768 * 3600;

export const DEFAULT_POLICY: PathRules = Object.freeze({
  'auth/token/lookup-self': ['read'],
  'auth/token/renew-self': ['update'],
  'auth/token/revoke-self': ['update'],
  'sys/capabilities-self': ['update'],
  'sys/renew': ['update'],
  'sys/leases/renew': ['update'],
  'sys/leases/lookup': ['update'],
});

export interface Token {
  readonly id: string;
  readonly accessor: string;
  readonly namespace: string;
  readonly policies: readonly string[];
  readonly displayName: string;
  readonly path: string;
  readonly renewable: boolean;
  /** Seconds; 0 = never expires (root). */
  readonly creationTtl: number;
  readonly explicitMaxTtl: number;
  readonly issuedAt: number;
  readonly meta: Readonly<Record<string, string>> | null;
  /** ms epoch; undefined = never. */
  expiresAt: number | undefined;
  lastRenewal: number | undefined;
}

export interface TokenOptions {
  /** Named policies (see putPolicy). `root` for everything. */
  policies?: readonly string[];
  /** Ad-hoc rules: a policy named `token-<accessor>` is made from them and attached. */
  paths?: PathRules;
  /** Seconds or a Vault duration; default 768h. */
  ttl?: number | string;
  renewable?: boolean;
  explicitMaxTtl?: number | string;
  namespace?: string;
  noDefaultPolicy?: boolean;
  displayName?: string;
}

export interface AppRoleOptions {
  policies?: readonly string[];
  paths?: PathRules;
  tokenTtl?: number | string;
  tokenMaxTtl?: number | string;
  renewable?: boolean;
  namespace?: string;
}

interface AppRole {
  readonly name: string;
  readonly namespace: string;
  readonly roleId: string;
  readonly secretIds: Set<string>;
  readonly opts: AppRoleOptions;
}

export const normalizeNamespace = (ns: string | undefined): string => (ns ?? '').replace(/^\/+|\/+$/g, '');

export class VaultAuth {
  private readonly tokens = new Map<string, Token>();
  private readonly policies = new Map<string, PathRules>([['default', DEFAULT_POLICY]]);
  private readonly approles = new Map<string, AppRole>();

  constructor(private readonly now: () => number) {}

  putPolicy(name: string, rules: PathRules): void {
    if (name === 'root') throw new Error('cannot redefine the root policy');
    this.policies.set(name, Object.freeze({ ...rules }));
  }

  addRootToken(id: string): Token {
    const t: Token = {
      id,
      accessor: base62(24),
      namespace: '',
      policies: ['root'],
      displayName: 'root',
      path: 'auth/token/root',
      renewable: false,
      creationTtl: 0,
      explicitMaxTtl: 0,
      issuedAt: this.now(),
      meta: null,
      expiresAt: undefined,
      lastRenewal: undefined,
    };
    this.tokens.set(id, t);
    return t;
  }

  createToken(opts: TokenOptions = {}, path = 'auth/token/create', meta: Record<string, string> | null = null): Token {
    const accessor = base62(24);
    const policies = new Set(opts.policies ?? []);
    if (opts.paths) {
      const name = `token-${accessor}`;
      this.putPolicy(name, opts.paths);
      policies.add(name);
    }
    for (const p of policies) if (p !== 'root' && !this.policies.has(p)) throw new Error(`unknown policy ${p}`);
    if (!opts.noDefaultPolicy && !policies.has('root')) policies.add('default');
    const ttl = opts.ttl === undefined ? SYSTEM_MAX_TTL : parseDuration('ttl', opts.ttl);
    const explicitMaxTtl = opts.explicitMaxTtl === undefined ? 0 : parseDuration('explicit_max_ttl', opts.explicitMaxTtl);
    const effective = Math.min(ttl === 0 ? SYSTEM_MAX_TTL : ttl, explicitMaxTtl || SYSTEM_MAX_TTL);
    const issuedAt = this.now();
    const t: Token = {
      id: `hvs.${base62(24)}`,
      accessor,
      namespace: normalizeNamespace(opts.namespace),
      policies: [...policies].sort(),
      displayName: opts.displayName ?? 'token',
      path,
      renewable: opts.renewable ?? true,
      creationTtl: effective,
      explicitMaxTtl,
      issuedAt,
      meta,
      expiresAt: issuedAt + effective * 1000,
      lastRenewal: undefined,
    };
    this.tokens.set(t.id, t);
    return t;
  }

  revokeToken(id: string): void {
    this.tokens.delete(id);
  }

  /**
   * Whether the token still lives: known and not expired. An expired token is
   * revoked here (as Vault's expiration manager revokes it at its TTL).
   */
  isLive(id: string): boolean {
    const t = this.tokens.get(id);
    if (!t) return false;
    if (t.expiresAt !== undefined && t.expiresAt <= this.now()) {
      this.tokens.delete(id);
      return false;
    }
    return true;
  }

  /**
   * The token a request names, live and valid in the request's namespace.
   * Unknown, expired and missing tokens are all Vault's plain 403.
   */
  authenticate(id: string | undefined, namespace: string): Token {
    const t = id ? this.tokens.get(id) : undefined;
    if (!t) throw denied(PERMISSION_DENIED_TOKEN);
    if (t.expiresAt !== undefined && t.expiresAt <= this.now()) {
      this.tokens.delete(t.id);
      throw denied(PERMISSION_DENIED_TOKEN);
    }
    // A token is valid in its own namespace; the root token also in every child.
    if (t.namespace !== namespace && !(t.namespace === '' && t.policies.includes('root'))) throw denied(PERMISSION_DENIED_TOKEN);
    return t;
  }

  /** Throws Vault's policy 403 unless one of the token's policies grants `cap` on `path` (longest match wins, deny wins). */
  authorize(t: Token, path: string, caps: readonly Capability[]): void {
    if (t.policies.includes('root')) return;
    let best: { len: number; caps: readonly Capability[] } | undefined;
    const granted = new Set<Capability>();
    for (const name of t.policies) {
      const rules = this.policies.get(name);
      if (!rules) continue;
      for (const [pattern, c] of Object.entries(rules)) {
        const exact = !pattern.endsWith('*');
        const prefix = exact ? pattern : pattern.slice(0, -1);
        const match = exact ? path === pattern : path.startsWith(prefix);
        if (!match) continue;
        // Vault: the most specific rule wins; an exact match beats any glob.
        const len = exact ? Number.MAX_SAFE_INTEGER : prefix.length;
        if (!best || len > best.len) {
          best = { len, caps: c };
          granted.clear();
        }
        if (len === best.len) for (const x of c) granted.add(x);
      }
    }
    if (!best || granted.has('deny') || !caps.some((c) => granted.has(c))) throw denied();
  }

  ttlLeft(t: Token): number {
    return t.expiresAt === undefined ? 0 : Math.max(0, Math.round((t.expiresAt - this.now()) / 1000));
  }

  lookupSelf(t: Token): LogicalResponse {
    return {
      data: {
        accessor: t.accessor,
        creation_time: Math.floor(t.issuedAt / 1000),
        creation_ttl: t.creationTtl,
        display_name: t.displayName,
        entity_id: '',
        expire_time: t.expiresAt === undefined ? null : rfc3339(t.expiresAt),
        explicit_max_ttl: t.explicitMaxTtl,
        id: t.id,
        issue_time: rfc3339(t.issuedAt),
        ...(t.lastRenewal !== undefined ? { last_renewal: rfc3339(t.lastRenewal), last_renewal_time: Math.floor(t.lastRenewal / 1000) } : {}),
        meta: t.meta,
        ...(t.namespace ? { namespace_path: `${t.namespace}/` } : {}),
        num_uses: 0,
        orphan: true,
        path: t.path,
        policies: t.policies,
        renewable: t.renewable,
        ttl: this.ttlLeft(t),
        type: 'service',
      },
    };
  }

  /**
   * renew-self: the new TTL is the increment (or the creation TTL), capped
   * so the token never outlives issue + explicit max TTL (or the system max),
   * with Vault's warning when capped.
   */
  renewSelf(t: Token, incrementRaw: unknown): LogicalResponse {
    if (!t.renewable || t.expiresAt === undefined) throw badRequest('lease is not renewable');
    const increment = incrementRaw === undefined || incrementRaw === null || incrementRaw === '' ? t.creationTtl : parseDuration('increment', incrementRaw);
    const now = this.now();
    const maxTtl = t.explicitMaxTtl || SYSTEM_MAX_TTL;
    const maxLeft = Math.max(0, Math.floor((t.issuedAt + maxTtl * 1000 - now) / 1000));
    const wanted = increment || t.creationTtl;
    const ttl = Math.min(wanted, maxLeft);
    const warnings = ttl < wanted ? [`TTL of "${goDuration(wanted)}" exceeded the effective max_ttl of "${goDuration(maxLeft)}"; TTL value is capped accordingly`] : [];
    t.expiresAt = now + ttl * 1000;
    t.lastRenewal = now;
    return { auth: this.authBlock(t, ttl), warnings };
  }

  authBlock(t: Token, leaseDuration = this.ttlLeft(t), metadata: Record<string, string> | null = t.meta): Record<string, unknown> {
    return {
      client_token: t.id,
      accessor: t.accessor,
      policies: t.policies,
      token_policies: t.policies,
      metadata,
      lease_duration: leaseDuration,
      renewable: t.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    };
  }

  createAppRole(name: string, opts: AppRoleOptions = {}): { roleId: string; secretId: string } {
    const role: AppRole = { name, namespace: normalizeNamespace(opts.namespace), roleId: randomUUID(), secretIds: new Set(), opts };
    const secretId = randomUUID();
    role.secretIds.add(secretId);
    this.approles.set(role.roleId, role);
    return { roleId: role.roleId, secretId };
  }

  /** A further secret id for an AppRole (by role id). */
  addSecretId(roleId: string): string {
    const role = this.approles.get(roleId);
    if (!role) throw new Error(`unknown role id ${roleId}`);
    const secretId = randomUUID();
    role.secretIds.add(secretId);
    return secretId;
  }

  /** Destroys a secret id (as `auth/approle/role/<name>/secret-id/destroy` would). */
  destroySecretId(roleId: string, secretId: string): void {
    this.approles.get(roleId)?.secretIds.delete(secretId);
  }

  /** `POST auth/approle/login`: Vault's 400 "invalid role or secret ID" for any mismatch. */
  appRoleLogin(body: Record<string, unknown>, namespace: string): LogicalResponse {
    const roleId = body['role_id'];
    const secretId = body['secret_id'];
    if (typeof roleId !== 'string' || roleId === '') throw badRequest('missing role_id');
    const role = this.approles.get(roleId);
    if (!role || role.namespace !== namespace || typeof secretId !== 'string' || !role.secretIds.has(secretId)) throw badRequest('invalid role or secret ID');
    const t = this.createToken(
      {
        ...(role.opts.policies ? { policies: role.opts.policies } : {}),
        ...(role.opts.paths ? { paths: role.opts.paths } : {}),
        ttl: role.opts.tokenTtl ?? SYSTEM_MAX_TTL,
        ...(role.opts.tokenMaxTtl !== undefined ? { explicitMaxTtl: role.opts.tokenMaxTtl } : {}),
        renewable: role.opts.renewable ?? true,
        namespace: role.namespace,
        displayName: 'approle',
      },
      'auth/approle/login',
      { role_name: role.name },
    );
    return { auth: this.authBlock(t, t.creationTtl) };
  }
}
