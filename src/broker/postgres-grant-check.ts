import { setTimeout as sleep } from 'node:timers/promises';
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
  /** A backend that could not be reached is checked again after this long, doubling up to `maxRetryMs` (30 s; 10 min). */
  retryMs?: number;
  maxRetryMs?: number;
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
 * logged, with the actions left unchecked, and checked again later (after
 * `retryMs`, doubling up to `maxRetryMs`) until it answers or the daemon
 * stops. Backends are checked independently. Never rejects.
 */
export async function checkPostgresGrants(deps: PostgresGrantCheckDeps): Promise<void> {
  // Backend -> its postgres actions, in config order.
  const byBackend = new Map<string, ActionConfig[]>();
  for (const a of Object.values(deps.actions)) {
    if (!a.postgres) continue;
    const list = byBackend.get(a.postgres.backend) ?? [];
    list.push(a);
    byBackend.set(a.postgres.backend, list);
  }
  await Promise.all([...byBackend].map(([backendName, actions]) => untilChecked(deps, backendName, actions)));
}

async function untilChecked(deps: PostgresGrantCheckDeps, backendName: string, actions: readonly ActionConfig[]): Promise<void> {
  const maxRetryMs = deps.maxRetryMs ?? 600_000;
  let delay = deps.retryMs ?? 30_000;
  // Where a check that could not reach the backend stopped: the next one goes on from there.
  const progress = { next: 0, refused: 0 };
  while (!deps.signal?.aborted) {
    const unchecked = await checkBackend(deps, backendName, actions, progress);
    if (!unchecked) return;
    const wait = delay >= 1000 ? `${Math.round(delay / 1000)} s` : `${delay} ms`;
    deps.log.warn({ ...(unchecked.err ? { err: unchecked.err } : {}), backend: backendName, actions: unchecked.actions, retry_in_ms: delay }, `${unchecked.message}; checked again in ${wait}`);
    // Stops waiting (and checking) as soon as the daemon stops; the timer keeps no process alive.
    if (!(await sleep(delay, undefined, { ...(deps.signal ? { signal: deps.signal } : {}), ref: false }).then(() => true, () => false))) return;
    delay = Math.min(maxRetryMs, delay * 2);
  }
}

/** Checks one backend's actions: undefined when done (problems logged), or what was left unchecked because it could not be reached. */
async function checkBackend(
  deps: PostgresGrantCheckDeps,
  backendName: string,
  actions: readonly ActionConfig[],
  progress: { next: number; refused: number },
): Promise<{ actions: string[]; message: string; err?: unknown } | undefined> {
  const { source, log, signal } = deps;
  for (let i = progress.next; i < actions.length; i++) {
    const action = actions[i]!;
    progress.next = i;
    const unchecked = (): string[] => actions.slice(i).map((a) => a.name);
    const found = source.forAction(action);
    if (!found?.backend.validate) {
      return { actions: unchecked(), message: `postgres: could not check the grants of ${unchecked().join(', ')} on backend ${backendName}: the backend is not available` };
    }
    const spec = found.spec as { grants: readonly PostgresGrant[] };
    let actionRefused = 0;
    for (const grant of spec.grants) {
      if (signal?.aborted) return undefined;
      try {
        await found.backend.validate({ ...spec, grants: [grant] });
      } catch (err) {
        if (err instanceof BrokerError && err.kind === 'unavailable') {
          // The next check starts again at this action (a warning already given for one of its grants repeats).
          return { actions: unchecked(), message: `postgres: could not check the grants of ${unchecked().join(', ')} on backend ${backendName}: ${problemOf(err)}`, err };
        }
        actionRefused += 1;
        const what = describeGrant(grant);
        log.warn({ err, backend: backendName, action: action.name, grant: what }, `postgres action ${action.name}: grant ${what} cannot be given: ${problemOf(err)}`);
      }
    }
    if (actionRefused > 0) progress.refused += 1;
  }
  progress.next = actions.length;
  const refused = progress.refused;
  const summary = `postgres: checked the grants of ${actions.length} action${actions.length === 1 ? '' : 's'} on backend ${backendName}`;
  if (refused > 0) log.warn({ backend: backendName }, `${summary}: ${refused} ha${refused === 1 ? 's' : 've'} grants that cannot be given (each is named above)`);
  else log.info({ backend: backendName }, `${summary}: all can be given`);
  return undefined;
}
