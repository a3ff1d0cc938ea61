/**
 * How the broker gets its Vault token: exactly one of
 *
 * - `token_file`: the file is read on first use and re-read whenever its
 *   mtime, size or inode changes (an agent such as Vault Agent rewrites it);
 *   `auth/token/lookup-self` tells the token's TTL and `renew-self` renews it at
 *   2/3 of that TTL. A 403 on a request re-reads the file once: if it now holds
 *   another token the request is tried once more with it.
 * - `approle`: `auth/<mount>/login` with the role id and the secret id read
 *   from its file (re-read at every login, so it may be rotated), and a new
 *   login at 2/3 of the token's TTL. A 403 on a request checks the token with
 *   `lookup-self`; when Vault no longer knows it, the broker logs in again and
 *   the request is tried once more.
 *
 * Nothing authenticates at construction: the first request does, so an
 * unreachable Vault never stops the broker from starting. Timers are
 * `unref()`ed and cleared by `close()`. Tokens and secret ids are held as
 * SecretValue and never logged or put in errors.
 */
import { promises as fs } from 'node:fs';
import type { Clock } from '../../lib/clock';
import { errCode } from '../../lib/errno';
import { BrokerError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { SecretValue } from '../../lib/secret-value';
import type { VaultAuthConfig } from '../../config/config-types';
import type { VaultClient } from './vault-client';
import { statusOf, toBrokerError } from './vault-errors';

export interface VaultAuth {
  /** The token to send now; authenticates (or renews) first when needed. */
  token(signal: AbortSignal): Promise<SecretValue>;
  /**
   * Called once after Vault answered 403 to a request made with `used`.
   * Resolves true when another token is now in place (try once more), false
   * when the token is fine and the 403 is a policy decision.
   */
  refused(used: SecretValue, signal: AbortSignal): Promise<boolean>;
  /** What is known of the token `used` (the one `token()` gave): its accessor and when Vault drops it. */
  about(used: SecretValue): TokenFacts;
  /**
   * When the token with this accessor ends (clock ms; undefined = never or
   * unknown). For the token in use that can be renewed (token_file), it is
   * first renewed (renew-self) when it would end before `until`, so a lease
   * minted under it is not cut short by a lapse the broker could prevent.
   * A token no longer in use ends at the last expiry the broker saw.
   */
  endsAt(accessor: string, until: number, signal: AbortSignal): Promise<number | undefined>;
  close(): void;
}

/** Non-secret facts about a token. */
export interface TokenFacts {
  accessor?: string;
  /** clock ms; undefined = never expires, or not known. */
  expiresAt?: number;
}

export interface VaultAuthDeps {
  backend: string;
  client: VaultClient;
  clock: Clock;
  log: Logger;
  timeoutMs: number;
}

/** Renew (or log in again) at this fraction of the token's TTL. */
const RENEW_AT = 2 / 3;
/** Timers never fire sooner than this, so a token with a tiny TTL cannot spin. */
const MIN_TIMER_MS = 1_000;
/** Retry a failed renewal after this long (or sooner when the token expires first). */
const RETRY_MS = 10_000;

export function createVaultAuth(cfg: VaultAuthConfig, deps: VaultAuthDeps): VaultAuth {
  return cfg.kind === 'token_file' ? new TokenFileAuth(cfg.tokenFile, deps) : new AppRoleAuth(cfg, deps);
}

interface TokenState {
  token: SecretValue;
  /** When Vault will drop the token (clock ms); undefined when it never expires or is not known yet. */
  expiresAt?: number;
  /** When to renew or log in again (clock ms); undefined for never. */
  renewAt?: number;
  /** Vault's accessor of the token (not secret), when Vault told it. */
  accessor?: string;
  /** Vault can renew it (renew-self), and it has not reached its max TTL. */
  renewable?: boolean;
}

/** Tokens replaced this process remembers the expiry of (leases minted under them end with them). */
const MAX_RETIRED = 256;

/** Shared parts: single-flight steps, the timer, closing. */
abstract class AuthBase implements VaultAuth {
  protected state: TokenState | null = null;
  protected closed = false;
  /** accessor → expiry of tokens no longer in use. */
  readonly #retired = new Map<string, number | undefined>();
  readonly #flights = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | null = null;

  constructor(protected readonly deps: VaultAuthDeps) {}

  abstract token(signal: AbortSignal): Promise<SecretValue>;
  abstract refused(used: SecretValue, signal: AbortSignal): Promise<boolean>;
  /** What the timer does when it fires. */
  protected abstract onTimer(): Promise<void>;

  about(used: SecretValue): TokenFacts {
    const st = this.state;
    if (!st || st.token !== used) return {};
    return { ...(st.accessor !== undefined ? { accessor: st.accessor } : {}), ...(st.expiresAt !== undefined ? { expiresAt: st.expiresAt } : {}) };
  }

  async endsAt(accessor: string, until: number, signal: AbortSignal): Promise<number | undefined> {
    const st = this.state;
    if (st && st.accessor === accessor) {
      if (st.expiresAt !== undefined && st.expiresAt < until && st.renewable) {
        try {
          await this.extend(signal);
        } catch (err) {
          this.deps.log.warn({ backend: this.deps.backend, err: describe(err) }, 'vault: could not renew the token before a lease that needs it longer');
        }
      }
      return st.expiresAt;
    }
    return this.#retired.get(accessor);
  }

  /** Renews the token in use now, if this kind of auth renews tokens. */
  protected async extend(_signal: AbortSignal): Promise<void> {}

  /** Replaces the token in use; the old one's expiry is remembered for the leases minted under it. */
  protected retire(st: TokenState | null): void {
    if (!st) return;
    st.token.wipe();
    if (st.accessor === undefined) return;
    this.#retired.delete(st.accessor);
    this.#retired.set(st.accessor, st.expiresAt);
    if (this.#retired.size > MAX_RETIRED) this.#retired.delete(this.#retired.keys().next().value!);
  }

  close(): void {
    this.closed = true;
    this.#clearTimer();
    this.state?.token.wipe();
    this.state = null;
  }

  protected live(): void {
    if (this.closed) throw new BrokerError('unavailable', `backend "${this.deps.backend}" (vault) is closed`);
  }

  /** Runs `fn` once for all concurrent callers of the same step; each caller still waits no longer than its own signal. */
  protected once(key: string, fn: () => Promise<void>, signal: AbortSignal): Promise<void> {
    let p = this.#flights.get(key);
    if (!p) {
      p = fn().finally(() => this.#flights.delete(key));
      this.#flights.set(key, p);
    }
    return raceSignal(p, signal, this.deps.backend);
  }

  /** A signal for work done on behalf of every caller (it must not die with the first caller's deadline). */
  protected ownSignal(): AbortSignal {
    return AbortSignal.timeout(this.deps.timeoutMs);
  }

  /** Records how long Vault says the token lives and schedules the next renewal. */
  protected setTtl(st: TokenState, ttlSeconds: number, renewable: boolean): void {
    const now = this.deps.clock.now();
    if (!(ttlSeconds > 0)) {
      delete st.expiresAt;
      delete st.renewAt;
      this.#clearTimer();
      return;
    }
    st.expiresAt = now + ttlSeconds * 1000;
    if (renewable) {
      st.renewAt = now + Math.floor(ttlSeconds * 1000 * RENEW_AT);
      this.schedule(st.renewAt - now);
    } else {
      delete st.renewAt;
      this.#clearTimer();
    }
  }

  protected schedule(delayMs: number): void {
    this.#clearTimer();
    if (this.closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.onTimer().catch((err) => this.deps.log.warn({ backend: this.deps.backend, err: describe(err) }, 'vault: token renewal failed'));
    }, Math.max(MIN_TIMER_MS, delayMs));
    this.#timer.unref();
  }

  /** After a failed renewal: try again in a while if the token still lives, else forget it. */
  protected retryLater(st: TokenState): void {
    const now = this.deps.clock.now();
    if (st.expiresAt !== undefined && st.expiresAt <= now) {
      if (this.state === st) this.state = null;
      return;
    }
    const left = st.expiresAt === undefined ? RETRY_MS : (st.expiresAt - now) / 2;
    st.renewAt = now + Math.min(RETRY_MS, left);
    this.schedule(st.renewAt - now);
  }

  protected expired(st: TokenState): boolean {
    return st.expiresAt !== undefined && st.expiresAt <= this.deps.clock.now();
  }

  protected due(st: TokenState): boolean {
    return st.renewAt !== undefined && st.renewAt <= this.deps.clock.now();
  }

  /** `auth/token/lookup-self`: the token's remaining TTL and whether it can be renewed. */
  protected async lookupSelf(token: SecretValue, signal: AbortSignal): Promise<{ ttl: number; renewable: boolean; accessor?: string }> {
    const body = (await this.deps.client.call({ method: 'GET', path: 'auth/token/lookup-self', token: token.revealString(), signal })) as {
      data?: { ttl?: unknown; renewable?: unknown; accessor?: unknown };
    };
    const ttl = typeof body?.data?.ttl === 'number' ? body.data.ttl : 0;
    const accessor = typeof body?.data?.accessor === 'string' && body.data.accessor !== '' ? body.data.accessor : undefined;
    return { ttl, renewable: body?.data?.renewable === true, ...(accessor ? { accessor } : {}) };
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

interface FileStamp {
  mtimeMs: number;
  size: number;
  ino: number;
}

class TokenFileAuth extends AuthBase {
  #stamp: FileStamp | null = null;
  /** The TTL of the current token has not been learned yet (lookup-self failed or not done). */
  #needsLookup = true;

  constructor(
    private readonly file: string,
    deps: VaultAuthDeps,
  ) {
    super(deps);
  }

  async token(signal: AbortSignal): Promise<SecretValue> {
    this.live();
    const had = this.state;
    if (!had || (await this.#changed())) {
      try {
        await this.once('read', () => this.#read(), signal);
      } catch (err) {
        // A file caught mid-rewrite: keep the token in use until the file settles or Vault refuses it.
        if (!had || this.state !== had || !(err instanceof BrokerError) || err.kind !== 'failed_precondition') throw err;
        this.deps.log.warn({ backend: this.deps.backend, err: describe(err) }, 'vault: cannot use token_file now; keeping the current token');
      }
    }
    if (this.#needsLookup) await this.once('lookup', () => this.#lookup(), signal);
    const st = this.state;
    if (st && this.due(st)) {
      try {
        await this.once('renew', () => this.#renew(), signal);
      } catch (err) {
        if (this.expired(st)) throw err;
        this.deps.log.warn({ backend: this.deps.backend, err: describe(err) }, 'vault: token renewal failed; the token is still valid');
      }
    }
    this.live();
    if (!this.state) throw this.#authError('the token expired and token_file holds no newer one');
    return this.state.token;
  }

  async refused(used: SecretValue, signal: AbortSignal): Promise<boolean> {
    this.live();
    await this.once('read', () => this.#read(), signal);
    const now = this.state?.token;
    if (!now || now.equals(used)) return false;
    if (this.#needsLookup) await this.once('lookup', () => this.#lookup(), signal);
    return true;
  }

  protected override async extend(signal: AbortSignal): Promise<void> {
    await this.once('renew', () => this.#renew(), signal);
  }

  protected async onTimer(): Promise<void> {
    if (this.closed) return;
    if (await this.#changed()) await this.#read();
    if (this.#needsLookup) await this.#lookup();
    else await this.#renew();
  }

  async #changed(): Promise<boolean> {
    try {
      const s = await fs.stat(this.file);
      const prev = this.#stamp;
      return !prev || prev.mtimeMs !== s.mtimeMs || prev.size !== s.size || prev.ino !== s.ino;
    } catch (err) {
      // A file that vanished keeps the token we have until Vault refuses it.
      if (this.state) {
        this.deps.log.warn({ backend: this.deps.backend, code: errCode(err) }, 'vault: cannot stat token_file; keeping the current token');
        return false;
      }
      return true;
    }
  }

  /** Reads the file; adopts its token when it differs from the one in use. */
  async #read(): Promise<void> {
    let bytes: Buffer;
    let stamp: FileStamp;
    try {
      const fh = await fs.open(this.file, 'r');
      try {
        const s = await fh.stat();
        stamp = { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino };
        if (s.size > 64 * 1024) throw this.#authError('token_file is larger than 64 KiB');
        bytes = await fh.readFile();
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      throw this.#authError(`cannot read token_file (${errCode(err)})`, err);
    }
    const text = bytes.toString('utf8').trim();
    bytes.fill(0);
    if (this.closed) return;
    this.#stamp = stamp;
    if (!/^[!-~]+$/.test(text)) throw this.#authError('token_file does not hold a token (one line of printable ASCII, no spaces)');
    const token = SecretValue.fromString(text);
    if (this.state?.token.equals(token)) {
      token.wipe();
      return;
    }
    this.retire(this.state);
    this.state = { token };
    this.#needsLookup = true;
    this.deps.log.info({ backend: this.deps.backend }, 'vault: read a new token from token_file');
  }

  async #lookup(): Promise<void> {
    const st = this.state;
    if (!st) return;
    let info;
    try {
      info = await this.lookupSelf(st.token, this.ownSignal());
    } catch (err) {
      if (statusOf(err) === 403) throw this.#authError('Vault refused the token in token_file', err);
      throw toBrokerError(err, { backend: this.deps.backend, subject: 'its token', verb: 'look up' });
    }
    if (this.state !== st || this.closed) return;
    if (info.accessor !== undefined) st.accessor = info.accessor;
    st.renewable = info.renewable && info.ttl > 0;
    this.setTtl(st, info.ttl, info.renewable);
    this.#needsLookup = false;
  }

  async #renew(): Promise<void> {
    const st = this.state;
    if (!st || this.closed) return;
    try {
      const body = (await this.deps.client.call({
        method: 'POST',
        path: 'auth/token/renew-self',
        body: {},
        token: st.token.revealString(),
        signal: this.ownSignal(),
      })) as { auth?: { lease_duration?: unknown; renewable?: unknown } };
      if (this.state !== st || this.closed) return;
      const ttl = typeof body?.auth?.lease_duration === 'number' ? body.auth.lease_duration : 0;
      const leftBefore = st.expiresAt === undefined ? undefined : st.expiresAt - this.deps.clock.now();
      // Vault caps a renewal at the token's max TTL: when it no longer extends, stop renewing
      // (token_file must bring a new token before then) instead of renewing ever more often.
      const capped = leftBefore !== undefined && ttl > 0 && ttl * 1000 <= leftBefore + 1000;
      st.renewable = body?.auth?.renewable === true && !capped && ttl > 0;
      this.setTtl(st, ttl, st.renewable);
      if (capped) this.deps.log.warn({ backend: this.deps.backend, ttlSeconds: ttl }, 'vault: the token reached its max TTL; token_file must provide a new token before it expires');
      else this.deps.log.info({ backend: this.deps.backend, ttlSeconds: ttl }, 'vault: token renewed');
    } catch (err) {
      if (this.state === st) {
        // A refused token: look at the file again on the next use.
        if (statusOf(err) === 403) this.#stamp = null;
        this.retryLater(st);
      }
      throw toBrokerError(err, { backend: this.deps.backend, subject: 'its token', verb: 'renew' });
    }
  }

  #authError(why: string, cause?: unknown): BrokerError {
    return new BrokerError('failed_precondition', `backend "${this.deps.backend}" cannot authenticate to Vault: ${why}`, cause === undefined ? {} : { cause });
  }
}

class AppRoleAuth extends AuthBase {
  constructor(
    private readonly cfg: Extract<VaultAuthConfig, { kind: 'approle' }>,
    deps: VaultAuthDeps,
  ) {
    super(deps);
  }

  async token(signal: AbortSignal): Promise<SecretValue> {
    this.live();
    const st = this.state;
    if (!st || this.expired(st)) {
      await this.once('login', () => this.#login(), signal);
    } else if (this.due(st)) {
      try {
        await this.once('login', () => this.#login(), signal);
      } catch (err) {
        if (this.expired(st)) throw err;
        this.deps.log.warn({ backend: this.deps.backend, err: describe(err) }, 'vault: AppRole login failed; the current token is still valid');
        this.retryLater(st);
      }
    }
    this.live();
    if (!this.state) throw this.#authError('no token');
    return this.state.token;
  }

  async refused(used: SecretValue, signal: AbortSignal): Promise<boolean> {
    this.live();
    const st = this.state;
    if (st && !st.token.equals(used)) return true; // someone logged in again meanwhile
    if (st) {
      try {
        await raceSignal(this.lookupSelf(st.token, this.ownSignal()), signal, this.deps.backend);
        return false; // the token is good: the 403 was a policy decision
      } catch (err) {
        if (statusOf(err) !== 403) throw toBrokerError(err, { backend: this.deps.backend, subject: 'its token', verb: 'look up' });
      }
    }
    await this.once('login', () => this.#login(), signal);
    return true;
  }

  protected async onTimer(): Promise<void> {
    if (this.closed) return;
    const st = this.state;
    try {
      await this.#login();
    } catch (err) {
      if (st && this.state === st) this.retryLater(st);
      throw err;
    }
  }

  async #login(): Promise<void> {
    let secretId: SecretValue;
    try {
      const bytes = await fs.readFile(this.cfg.secretIdFile);
      secretId = SecretValue.fromString(bytes.toString('utf8').trim());
      bytes.fill(0);
    } catch (err) {
      throw this.#authError(`cannot read secret_id_file (${errCode(err)})`, err);
    }
    if (secretId.length === 0) throw this.#authError('secret_id_file is empty');
    let body: { auth?: { client_token?: unknown; accessor?: unknown; lease_duration?: unknown; renewable?: unknown } };
    try {
      body = (await this.deps.client.call({
        method: 'POST',
        path: `auth/${encodeURIComponent(this.cfg.mount)}/login`,
        body: { role_id: this.cfg.roleId, secret_id: secretId.revealString() },
        signal: this.ownSignal(),
      })) as typeof body;
    } catch (err) {
      const s = statusOf(err);
      if (s !== undefined && s >= 400 && s < 500 && s !== 429) throw this.#authError('Vault refused the AppRole login', err);
      throw toBrokerError(err, { backend: this.deps.backend, subject: 'an AppRole token', verb: 'log in for' });
    } finally {
      secretId.wipe();
    }
    const clientToken = body?.auth?.client_token;
    if (typeof clientToken !== 'string' || clientToken === '') throw this.#authError('the AppRole login answer has no token');
    if (this.closed) return;
    const st: TokenState = { token: SecretValue.fromString(clientToken) };
    if (typeof body.auth?.accessor === 'string' && body.auth.accessor !== '') st.accessor = body.auth.accessor;
    const ttl = typeof body.auth?.lease_duration === 'number' ? body.auth.lease_duration : 0;
    this.retire(this.state);
    this.state = st;
    // A new login before expiry replaces renewal, so the schedule does not depend on `renewable`.
    this.setTtl(st, ttl, true);
    this.deps.log.info({ backend: this.deps.backend, ttlSeconds: ttl }, 'vault: logged in with AppRole');
  }

  #authError(why: string, cause?: unknown): BrokerError {
    return new BrokerError('failed_precondition', `backend "${this.deps.backend}" cannot authenticate to Vault: ${why}`, cause === undefined ? {} : { cause });
  }
}

/** Waits for `p`, but no longer than `signal` allows. */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal, backend: string): Promise<T> {
  const late = (): BrokerError => new BrokerError('unavailable', `backend "${backend}" (vault) is unavailable`, { cause: new Error('timed out') });
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(late());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(late());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A loggable summary of an error: its kind and message, and Vault's status if any (never a token). */
export function describe(err: unknown): Record<string, unknown> {
  if (err instanceof BrokerError) {
    return { kind: err.kind, message: err.message, ...(err.cause !== undefined ? { cause: describe(err.cause) } : {}) };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { message: String(err) };
}
