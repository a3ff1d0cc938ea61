import type { CredentialHandle, DynamicCredentialBackend } from '../backends/backend';
import type { ActionConfig } from '../config/config-types';
import { BrokerError, unavailable } from '../lib/errors';

/**
 * Where the broker finds the dynamic credential backend for an action (mint,
 * renew) and for a stored handle (revoke, after a restart too). The
 * composition root builds one from config; tests inject a fault injector.
 * Everything in LeaseService and CredentialRevoker is generic over it.
 */
export interface DynamicCredentialSource {
  /** The backend and the compiled spec for an action that hands out a credential; undefined when none is available. */
  forAction(action: ActionConfig): { backend: DynamicCredentialBackend; spec: unknown } | undefined;
  /** The configured backend of that name (a handle's `backend`), if it is available. */
  byName(backend: string): DynamicCredentialBackend | undefined;
}

/** The backend an action mints its credential with, or undefined for an action that hands out none. */
export function credentialBackendOf(action: ActionConfig): string | undefined {
  return action.vaultDynamic?.backend ?? action.postgres?.backend;
}

/** The error for a backend that is not configured or not built (its name only). */
export const backendNotAvailable = (backend: string): BrokerError => unavailable(`backend ${backend} (backend not available)`);

/**
 * A backend's rejection as the caller sees it: the backend's own kind when it
 * is one a store can cause (retry may help, or the operator must fix
 * something), with our words only; the backend's error rides along as the
 * cause, which is logged and never sent. Anything else is INTERNAL.
 */
export function backendFailure(backend: string, what: string, err: unknown): BrokerError {
  const kind = err instanceof BrokerError && (err.kind === 'unavailable' || err.kind === 'failed_precondition' || err.kind === 'resource_exhausted') ? err.kind : 'internal';
  const message =
    kind === 'unavailable'
      ? `backend ${backend} is unavailable: could not ${what}`
      : kind === 'resource_exhausted'
        ? `backend ${backend} is at a limit its operator set (for postgres, max_lease_connections): could not ${what}; end a lease of this backend, or ask an operator`
        : `backend ${backend} could not ${what}`;
  return new BrokerError(kind, message, { cause: err });
}

/** What evidence and logs may say about a handle: the backend and the id, never attributes. */
export const handleRef = (h: CredentialHandle): { backend: string; id: string } => ({ backend: h.backend, id: h.id });
