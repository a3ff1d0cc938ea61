/**
 * Dynamic database logins from Vault's database secrets engine (config
 * `database_mount`, default "database"), one per broker lease.
 *
 * 1. `create` reads `<mount>/creds/<role>`: Vault makes the login and a Vault
 *    lease for it. The handle is `{ backend, id: <Vault lease_id> }`.
 * 2. If Vault's lease would outlive the broker lease, it is shortened with
 *    `sys/leases/renew` (increment = the seconds left on the broker lease), so
 *    the login dies upstream even if the broker never revokes it. Vault may
 *    cap it lower; the credential's expiry is the earlier of the two.
 * 3. If anything fails after Vault made the login, the Vault lease is revoked
 *    before `create` rejects; if that revoke fails too, the rejection is a
 *    `CredentialLeftError` carrying the handle, and the caller retries it.
 * Vault revokes every lease a token created when that token ends (revoked,
 * or expired at its TTL / max TTL), so a login never outlives the broker
 * token that minted it: `create` and `renew` cap the expiry they return at
 * that token's end (a renewable token_file token is renewed first when it
 * would end sooner). The handle carries the token's accessor and end
 * (`attributes.token_accessor`, `token_expires_at`) for later renewals.
 * `renew` extends the Vault lease up to min(expiresAt, maxExpiresAt, token
 * end) and returns the expiry Vault set; `revoke` is `sys/leases/revoke` (Vault answers
 * 204 for a lease it does not know, so revoking twice resolves; a 404 from
 * something in front of Vault counts as gone too). `validate` checks the spec
 * and that Vault takes the token.
 */
import type { VaultDynamicActionConfig } from '../../config/config-types';
import { BrokerError } from '../../lib/errors';
import { SecretValue } from '../../lib/secret-value';
import { CredentialLeftError, type CredentialHandle, type DynamicCredentialBackend, type IssuedCredential, type LeaseBinding } from '../backend';
import { describe, type TokenFacts } from './vault-auth';
import { badResponse, statusOf, toBrokerError, VaultHttpError, type VaultErrorContext } from './vault-errors';
import { assertRole } from './vault-paths';
import { healthCheck } from './vault-kv';
import type { VaultSession } from './vault-session';

/** Handle attributes: the accessor of the token that minted the credential, and when that token ends (ms). */
const TOKEN_ACCESSOR = 'token_accessor';
const TOKEN_ENDS = 'token_expires_at';

/** What a `vault_dynamic` action gives the backend. */
export type VaultDynamicSpec = Pick<VaultDynamicActionConfig, 'role' | 'connection'>;

export type VaultDatabaseBackend = DynamicCredentialBackend<VaultDynamicSpec> & { readonly kind: 'vault' };

interface VaultLease {
  lease_id?: unknown;
  lease_duration?: unknown;
  renewable?: unknown;
  data?: { username?: unknown; password?: unknown };
}

export function createVaultDatabase(session: VaultSession, close: () => Promise<void>): VaultDatabaseBackend {
  const name = session.name;
  const mount = encodeURIComponent(session.cfg.databaseMount);
  const leaseCtx = (verb: string): VaultErrorContext => ({ backend: name, subject: 'a credential lease', verb });
  /**
   * Vault's sys/leases handlers answer 400 "failed to renew entry: …" / "failed to
   * revoke entry: …" when the database itself failed: retrying may help, so that is
   * `unavailable`, not the `failed_precondition` other 400s ("lease not found") are.
   */
  const leaseError = (err: unknown, verb: string): BrokerError => {
    if (err instanceof VaultHttpError && err.status === 400 && err.errors.some((e) => /^failed to (renew|revoke) entry/.test(e))) {
      return new BrokerError('unavailable', `backend "${name}" (vault) is unavailable`, { cause: err });
    }
    return toBrokerError(err, leaseCtx(verb));
  };

  const checkHandle = (handle: CredentialHandle): string => {
    if (!handle || handle.backend !== name) throw new BrokerError('invalid_argument', `handle.backend: expected "${name}"`);
    if (typeof handle.id !== 'string' || handle.id === '' || handle.id.length > 1024) {
      throw new BrokerError('invalid_argument', 'handle.id: expected a Vault lease id');
    }
    return handle.id;
  };

  /** `sys/leases/renew`; resolves with the lease duration Vault set, in seconds. */
  const renewLease = async (leaseId: string, incrementSeconds: number, signal: AbortSignal): Promise<number> => {
    const body = (await session.call({ method: 'PUT', path: 'sys/leases/renew', body: { lease_id: leaseId, increment: incrementSeconds } }, signal)) as VaultLease;
    if (typeof body?.lease_duration !== 'number' || body.lease_duration < 0) throw badResponse(leaseCtx('renew'), 'has no lease_duration');
    return body.lease_duration;
  };

  const revokeLease = async (leaseId: string, signal: AbortSignal): Promise<void> => {
    try {
      await session.call({ method: 'PUT', path: 'sys/leases/revoke', body: { lease_id: leaseId } }, signal);
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw leaseError(err, 'revoke');
    }
  };

  /** When the token that minted a credential ends (renewing it first when it is still in use and can be). */
  const mintingTokenEnds = async (minter: TokenFacts, until: number, signal: AbortSignal): Promise<number | undefined> => {
    if (minter.expiresAt === undefined) return undefined; // never expires (or Vault did not say)
    if (minter.expiresAt >= until || minter.accessor === undefined) return minter.expiresAt;
    return (await session.tokenEndsAt(minter.accessor, until, signal)) ?? minter.expiresAt;
  };

  const handleTokenEnds = async (handle: CredentialHandle, until: number, signal: AbortSignal): Promise<number | undefined> => {
    const accessor = handle.attributes?.[TOKEN_ACCESSOR];
    const stored = Number(handle.attributes?.[TOKEN_ENDS]);
    if (accessor === undefined || !Number.isFinite(stored)) return undefined; // minted under a token that never expires
    const known = await session.tokenEndsAt(accessor, until, signal);
    return Math.max(stored, known ?? stored);
  };

  /** Whether the token that minted the credential has ended (by the latest expiry the broker knows). */
  const mintingTokenEnded = async (handle: CredentialHandle, signal: AbortSignal): Promise<boolean> => {
    const accessor = handle.attributes?.[TOKEN_ACCESSOR];
    const stored = Number(handle.attributes?.[TOKEN_ENDS]);
    if (accessor === undefined || !Number.isFinite(stored)) return false;
    const known = await session.tokenEndsAt(accessor, 0, signal).catch(() => undefined);
    return Math.max(stored, known ?? stored) <= session.clock.now();
  };

  const db: VaultDatabaseBackend = {
    kind: 'vault',
    type: 'dynamic',
    name,

    async create(spec: VaultDynamicSpec, lease: LeaseBinding): Promise<IssuedCredential> {
      session.live();
      checkSpec(spec);
      if (!lease || !Number.isFinite(lease.expiresAt)) throw new BrokerError('invalid_argument', 'lease.expiresAt: expected ms since the epoch');
      if (lease.expiresAt <= session.clock.now()) throw new BrokerError('invalid_argument', 'lease.expiresAt: must be in the future');
      const ctx: VaultErrorContext = { backend: name, subject: `database role "${spec.role}"`, verb: 'read credentials for' };
      const signal = session.deadline();

      // 1. Vault makes the login, under the broker's token of the moment.
      let body: VaultLease;
      let minter: TokenFacts;
      try {
        const r = await session.callAs({ method: 'GET', path: `${mount}/creds/${encodeURIComponent(spec.role)}` }, signal);
        body = r.body as VaultLease;
        minter = r.token;
      } catch (err) {
        throw toBrokerError(err, ctx);
      }
      const leaseId = typeof body?.lease_id === 'string' && body.lease_id !== '' ? body.lease_id : undefined;
      const user = body?.data?.username;
      const pass = body?.data?.password;
      let password: SecretValue | undefined;
      try {
        if (!leaseId) throw badResponse(ctx, 'has no lease_id');
        if (typeof user !== 'string' || user === '' || typeof pass !== 'string' || pass === '') throw badResponse(ctx, 'has no username and password');
        if (typeof body.lease_duration !== 'number' || body.lease_duration < 0) throw badResponse(ctx, 'has no lease_duration');
        password = SecretValue.fromString(pass);

        // 2. Vault revokes the login when the token that minted it ends: the lease ends no later.
        const tokenEnds = await mintingTokenEnds(minter, lease.expiresAt, signal);
        const target = Math.min(lease.expiresAt, tokenEnds ?? Infinity);

        // 3. Vault's lease may not outlive the broker's.
        const now = session.clock.now();
        if (target <= now) throw new BrokerError('unavailable', `backend "${name}" (vault) is unavailable: its token ends now`);
        let vaultExpiresAt = body.lease_duration > 0 ? now + body.lease_duration * 1000 : Infinity;
        if (vaultExpiresAt > target) {
          if (body.renewable === true) {
            const increment = Math.max(1, Math.ceil((target - now) / 1000));
            let set: number;
            try {
              set = await renewLease(leaseId, increment, signal);
            } catch (err) {
              throw leaseError(err, 'shorten');
            }
            vaultExpiresAt = set > 0 ? now + set * 1000 : Infinity;
          } else {
            session.log.info({ role: spec.role }, 'vault: the credential lease is not renewable, so it cannot be shortened to the broker lease; the broker revokes it when the lease ends');
          }
        }
        const attributes: Record<string, string> = {};
        if (minter.accessor !== undefined && tokenEnds !== undefined) {
          attributes[TOKEN_ACCESSOR] = minter.accessor;
          attributes[TOKEN_ENDS] = String(tokenEnds);
        }
        return {
          handle: { backend: name, id: leaseId, ...(Object.keys(attributes).length ? { attributes } : {}) },
          credential: { kind: 'database', host: spec.connection.host, port: spec.connection.port, database: spec.connection.database, user, password },
          expiresAt: Math.min(target, vaultExpiresAt),
        };
      } catch (err) {
        // 4. Nothing Vault made outlives a failed create.
        password?.wipe();
        if (leaseId) {
          const left = await revokeLease(leaseId, session.deadline()).then(
            () => false,
            (revokeErr: unknown) => {
              session.log.error({ leaseId, err: describe(revokeErr) }, 'vault: could not revoke the credential of a failed create; the caller retries the revoke');
              return true;
            },
          );
          // The handle rides along so the caller revokes it until that succeeds (contract: CredentialLeftError).
          if (left) {
            const base = err instanceof BrokerError ? err : new BrokerError('internal', `backend "${name}" (vault) could not issue a credential`, { cause: err });
            throw CredentialLeftError.wrap(base, { backend: name, id: leaseId });
          }
        }
        throw err;
      }
    },

    async renew(handle, lease): Promise<{ expiresAt: number }> {
      session.live();
      const leaseId = checkHandle(handle);
      const wanted = Math.min(lease.expiresAt, lease.maxExpiresAt);
      if (!Number.isFinite(wanted) || wanted <= session.clock.now()) throw new BrokerError('invalid_argument', 'lease.expiresAt: must be in the future and not past maxExpiresAt');
      const signal = session.deadline();
      // The login dies with the token that minted it (Vault revokes its leases): never renew past that.
      const tokenEnds = await handleTokenEnds(handle, wanted, signal);
      const now = session.clock.now();
      const target = Math.min(wanted, tokenEnds ?? Infinity);
      if (target <= now) {
        throw new BrokerError('failed_precondition', `backend "${name}" (vault): the token that issued this credential has ended, and Vault revoked the credential with it; request a new lease`);
      }
      const increment = Math.max(1, Math.ceil((target - now) / 1000));
      let set: number;
      try {
        set = await renewLease(leaseId, increment, signal);
      } catch (err) {
        throw leaseError(err, 'renew');
      }
      return { expiresAt: set > 0 ? Math.min(target, now + set * 1000) : target };
    },

    async revoke(handle): Promise<void> {
      session.live();
      const leaseId = checkHandle(handle);
      const signal = session.deadline();
      try {
        await revokeLease(leaseId, signal);
      } catch (err) {
        // Vault refuses the broker's token, and the token that minted the credential has
        // ended: Vault revoked the credential with that token (and will not let us ask).
        if (!(err instanceof BrokerError) || err.kind !== 'failed_precondition' || !(await mintingTokenEnded(handle, signal))) throw err;
        session.log.info({ leaseId }, 'vault: the token that issued this credential has ended, and Vault revoked the credential with it');
      }
    },

    async validate(spec: VaultDynamicSpec): Promise<void> {
      // The spec's shape, and that Vault answers and takes the token. Whether the role
      // exists is not asked (reading <mount>/roles/<role> needs a right a least-privilege
      // broker token does not have); the first create tells (Vault: 400 "unknown role").
      checkSpec(spec);
      await healthCheck(session);
    },

    health: () => healthCheck(session),
    close,
  };
  return db;
}

function checkSpec(spec: VaultDynamicSpec): void {
  if (!spec || typeof spec !== 'object') throw new BrokerError('invalid_argument', 'spec: expected { role, connection }');
  assertRole(spec.role);
  const c = spec.connection;
  if (!c || typeof c.host !== 'string' || c.host === '') throw new BrokerError('invalid_argument', 'connection.host: expected a host name or address');
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw new BrokerError('invalid_argument', 'connection.port: expected a port from 1 to 65535');
  if (typeof c.database !== 'string' || c.database === '') throw new BrokerError('invalid_argument', 'connection.database: expected a database name');
}
