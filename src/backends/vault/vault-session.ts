/**
 * What the KV and database members of one Vault backend share: one client
 * (one connection pool, one TLS setup), one auth, one `closed` switch, and the
 * rule that every operation is bounded by `timeoutMs` (retries and the auth it
 * needs included).
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '../../lib/clock';
import { errCode } from '../../lib/errno';
import { BrokerError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { VaultBackendConfig } from '../../config/config-types';
import { createVaultAuth, raceSignal, type TokenFacts, type VaultAuth } from './vault-auth';
import { createVaultClient, type VaultCall, type VaultClient } from './vault-client';
import { statusOf } from './vault-errors';

export class VaultSession {
  readonly name: string;
  readonly cfg: VaultBackendConfig;
  readonly clock: Clock;
  readonly log: Logger;
  readonly #client: VaultClient;
  readonly #auth: VaultAuth;
  /** A ca_file that cannot be read fails every call, not the construction. */
  readonly #caError: BrokerError | undefined;
  #closed = false;

  constructor(cfg: VaultBackendConfig, deps: { clock: Clock; log: Logger }) {
    this.name = cfg.name;
    this.cfg = cfg;
    this.clock = deps.clock;
    this.log = deps.log;
    let ca: Buffer | undefined;
    if (cfg.caFile) {
      try {
        ca = readFileSync(cfg.caFile);
      } catch (err) {
        // Not thrown here: construction must not fail; every call reports it instead.
        this.#caError = new BrokerError('failed_precondition', `backend "${cfg.name}" (vault): cannot read ca_file ${cfg.caFile} (${errCode(err)})`, { cause: err });
      }
    }
    this.#client = createVaultClient({
      address: cfg.address,
      ...(cfg.namespace ? { namespace: cfg.namespace } : {}),
      ...(ca ? { ca } : {}),
      timeoutMs: cfg.timeoutMs,
    });
    this.#auth = createVaultAuth(cfg.auth, { backend: cfg.name, client: this.#client, clock: deps.clock, log: deps.log, timeoutMs: cfg.timeoutMs });
  }

  /** A deadline for one operation. */
  deadline(): AbortSignal {
    return AbortSignal.timeout(this.cfg.timeoutMs);
  }

  live(): void {
    if (this.#closed) throw new BrokerError('unavailable', `backend "${this.name}" (vault) is closed`);
    if (this.#caError) throw this.#caError;
  }

  /** An authenticated call; a 403 gets one more try when the auth has a new token by then. */
  async call(c: Omit<VaultCall, 'token' | 'signal'>, signal: AbortSignal): Promise<unknown> {
    return (await this.callAs(c, signal)).body;
  }

  /**
   * `call`, also telling which token made it (its accessor and expiry): Vault
   * revokes the leases a token created when that token ends.
   */
  async callAs(c: Omit<VaultCall, 'token' | 'signal'>, signal: AbortSignal): Promise<{ body: unknown; token: TokenFacts }> {
    this.live();
    const token = await this.#auth.token(signal);
    try {
      const body = await raceSignal(this.#client.call({ ...c, token: token.revealString(), signal }), signal, this.name);
      return { body, token: this.#auth.about(token) };
    } catch (err) {
      if (statusOf(err) !== 403 || this.#closed) throw err;
      if (!(await this.#auth.refused(token, signal))) throw err;
      const next = await this.#auth.token(signal);
      const body = await raceSignal(this.#client.call({ ...c, token: next.revealString(), signal }), signal, this.name);
      return { body, token: this.#auth.about(next) };
    }
  }

  /** When the token with `accessor` ends; see `VaultAuth.endsAt` (renews the token in use first when it can). */
  tokenEndsAt(accessor: string, until: number, signal: AbortSignal): Promise<number | undefined> {
    this.live();
    return this.#auth.endsAt(accessor, until, signal);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#auth.close();
    this.#client.close();
  }
}
