import type { ActionConfig, PostgresGrant } from '../config/config-types';
import { BrokerError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { DynamicCredentialSource } from './dynamic-credentials';

export interface PostgresGrantCheckDeps {
  actions: Readonly<Record<string, ActionConfig>>;
  source: DynamicCredentialSource;
  log: Logger;
  /** Set when the daemon stops: no further grant is checked. */
  signal?: AbortSignal;
}

/** A grant as the config writes it, for the log: `SELECT on schema analytics`, `SELECT on table analytics.events`. */
export const describeGrant = (g: PostgresGrant): string => `${g.privilege} on ${g.table !== undefined ? `table ${g.schema}.${g.table}` : `schema ${g.schema}`}`;

/** Our own words for why: the innermost BrokerError (a wrapper only says which call failed); the vendor's detail stays in `err`. */
function problemOf(err: unknown): string {
  let e = err;
  while (e instanceof BrokerError && e.cause instanceof BrokerError) e = e.cause;
  return e instanceof Error ? e.message : 'unknown failure';
}

/**
 * Checks each postgres action's grants with its backend's `validate` at start,
 * so that a grant on a missing schema or table, or one the admin login may not
 * give, is found by the operator in the log, not by the first agent that asks
 * (its RequestLease fails FAILED_PRECONDITION either way). Each grant is
 * checked alone, so a warning names the action, the grant and the problem.
 * Nothing here fails or holds up start-up: a backend that cannot be reached is
 * logged once, with the actions left unchecked, and skipped. Never rejects.
 */
export async function checkPostgresGrants(deps: PostgresGrantCheckDeps): Promise<void> {
  const { source, log, signal } = deps;
  // Backend -> its postgres actions, in config order.
  const byBackend = new Map<string, ActionConfig[]>();
  for (const a of Object.values(deps.actions)) {
    if (!a.postgres) continue;
    const list = byBackend.get(a.postgres.backend) ?? [];
    list.push(a);
    byBackend.set(a.postgres.backend, list);
  }
  for (const [backendName, actions] of byBackend) {
    let refused = 0;
    let unchecked: string[] = [];
    for (const [i, action] of actions.entries()) {
      const found = source.forAction(action);
      if (!found?.backend.validate) {
        unchecked = actions.slice(i).map((a) => a.name);
        log.warn({ backend: backendName, actions: unchecked }, `postgres: could not check the grants of ${unchecked.join(', ')} on backend ${backendName}: the backend is not available`);
        break;
      }
      const spec = found.spec as { grants: readonly PostgresGrant[] };
      let actionRefused = 0;
      for (const grant of spec.grants) {
        if (signal?.aborted) return;
        try {
          await found.backend.validate({ ...spec, grants: [grant] });
        } catch (err) {
          if (err instanceof BrokerError && err.kind === 'unavailable') {
            unchecked = actions.slice(i).map((a) => a.name);
            log.warn({ err, backend: backendName, actions: unchecked }, `postgres: could not check the grants of ${unchecked.join(', ')} on backend ${backendName}: ${problemOf(err)}`);
            break;
          }
          actionRefused += 1;
          const what = describeGrant(grant);
          log.warn({ err, backend: backendName, action: action.name, grant: what }, `postgres action ${action.name}: grant ${what} cannot be given: ${problemOf(err)}`);
        }
      }
      if (unchecked.length > 0) break;
      if (actionRefused > 0) refused += 1;
    }
    if (unchecked.length === 0) {
      const summary = `postgres: checked the grants of ${actions.length} action${actions.length === 1 ? '' : 's'} on backend ${backendName}`;
      if (refused > 0) log.warn({ backend: backendName }, `${summary}: ${refused} ha${refused === 1 ? 's' : 've'} grants that cannot be given (each is named above)`);
      else log.info({ backend: backendName }, `${summary}: all can be given`);
    }
  }
}
