import { failedPrecondition } from '../lib/errors';
import type { ContextValue } from './context-fields';
import type { PreparedCall } from './prepare-call';

/** What a lease was granted for, as far as the HTTP call can show it. */
export interface CallBinding {
  /** Path parameters the lease fixes, e.g. { id: "T-1" }; parameters not named here are free. */
  readonly pathParams?: Readonly<Record<string, string>>;
  /**
   * The declared context fields' values at decision time. Compared over the
   * union of keys: every declared field is part of what was decided.
   */
  readonly context?: Readonly<Record<string, ContextValue>>;
}

/**
 * Refuses a prepared call that would do something other than what was
 * leased (FAILED_PRECONDITION). Values are compared with their types, so
 * "1000" does not stand in for 1000. Messages name the field, not the values.
 */
export function checkCallBinding(prepared: PreparedCall, bound: CallBinding): void {
  for (const [name, value] of Object.entries(bound.pathParams ?? {})) {
    if (!Object.hasOwn(prepared.pathParams, name) || prepared.pathParams[name] !== value) {
      throw failedPrecondition(`path parameter ${name} differs from what the lease was granted for`);
    }
  }
  if (bound.context !== undefined) {
    const names = new Set([...Object.keys(bound.context), ...Object.keys(prepared.context)]);
    for (const name of names) {
      if (!Object.hasOwn(bound.context, name) || !Object.hasOwn(prepared.context, name) || bound.context[name] !== prepared.context[name]) {
        throw failedPrecondition(`context field ${name} differs from what the lease was granted for`);
      }
    }
  }
}
