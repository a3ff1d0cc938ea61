/**
 * Vault's answers, translated into BrokerErrors. Only this folder sees Vault's
 * text: it rides along as `cause` (logged server-side), and the public
 * `message` names only the backend and the secret or role.
 *
 *   404                          → not_found
 *   403                          → failed_precondition (the broker's token may not do it)
 *   429, 5xx (503 sealed), 3xx,
 *   refused, reset, TLS, timeout → unavailable
 *   any other 4xx                → failed_precondition (a configuration the operator must fix)
 */
import { BrokerError } from '../../lib/errors';
import { VaultTransportError } from './vault-transport';

/** Vault answered with an HTTP error. Carries the status and Vault's `errors` text, never headers or request bodies. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: readonly string[],
  ) {
    super(`Vault answered ${status}${errors.length ? `: ${errors.join('; ')}` : ''}`.slice(0, 1000));
    this.name = 'VaultHttpError';
  }
}

/** What failed, in our own words: the backend and, for messages, the object and the verb. */
export interface VaultErrorContext {
  backend: string;
  /** e.g. `secret "app/stripe"`, `database role "readonly"`, `credential lease`. */
  subject: string;
  /** e.g. `read`, `write`, `renew`. */
  verb: string;
}

export function statusOf(err: unknown): number | undefined {
  return err instanceof VaultHttpError ? err.status : undefined;
}

/** Maps a failed Vault call to the BrokerError the contract asks for. */
export function toBrokerError(err: unknown, ctx: VaultErrorContext): BrokerError {
  if (err instanceof BrokerError) return err;
  const where = `backend "${ctx.backend}"`;
  if (err instanceof VaultTransportError) {
    return new BrokerError('unavailable', `${where} (vault) is unavailable`, { cause: err });
  }
  if (err instanceof VaultHttpError) {
    const s = err.status;
    if (s === 404) return new BrokerError('not_found', `${ctx.subject} in ${where} not found`, { cause: err });
    if (s === 403) return new BrokerError('failed_precondition', `the broker cannot ${ctx.verb} ${ctx.subject} in ${where}`, { cause: err });
    if (s === 429 || s >= 500 || (s >= 300 && s < 400) || s === 0) {
      return new BrokerError('unavailable', `${where} (vault) is unavailable`, { cause: err });
    }
    return new BrokerError('failed_precondition', `the broker cannot ${ctx.verb} ${ctx.subject} in ${where}`, { cause: err });
  }
  return new BrokerError('internal', `${where} (vault): unexpected failure to ${ctx.verb} ${ctx.subject}`, { cause: err });
}

/** A success that does not have the shape Vault documents: retrying will not fix it. */
export function badResponse(ctx: VaultErrorContext, what: string): BrokerError {
  return new BrokerError('internal', `backend "${ctx.backend}" (vault): the answer to ${ctx.verb} ${ctx.subject} ${what}`);
}
