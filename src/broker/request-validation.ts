import type { ActionConfig } from '../config/config-types';
import type { ContextValue } from '../leases/lease';
import { invalidArgument } from '../lib/errors';
import type { Json } from './struct';

const RESOURCE = /^[A-Za-z0-9._~:/@+=-]{1,256}$/;

export function checkResource(resource: string): string {
  if (!RESOURCE.test(resource)) throw invalidArgument('resource', 'required: 1 to 256 characters of letters, digits and ._~:/@+=-');
  return resource;
}

export function checkPurpose(purpose: string): string {
  if (purpose.length > 1024 || [...purpose].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw invalidArgument('purpose', 'at most 1024 characters, no control characters');
  return purpose;
}

/**
 * A declared context value must be a string, a boolean or an integer (amounts
 * are integer cents): a fractional or unsafe number is refused, never rounded.
 */
export function contextValue(field: string, v: unknown): ContextValue {
  if (typeof v === 'string') {
    if (v.length > 1024) throw invalidArgument(field, 'a string of at most 1024 characters');
    return v;
  }
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw invalidArgument(field, `an integer (amounts are in cents), got ${Number.isFinite(v) ? v : 'a non-finite number'}`);
    return v;
  }
  throw invalidArgument(field, 'a string, an integer or a boolean');
}

/** For RequestLease, each declared context field comes from params.<field> and is required. */
export function contextFromParams(action: ActionConfig, params: Readonly<Record<string, Json>>): Record<string, ContextValue> {
  const out: Record<string, ContextValue> = {};
  for (const field of action.contextFields) {
    if (!(field in params)) throw invalidArgument(`params.${field}`, `required: ${action.name} declares the context field "${field}"`);
    out[field] = contextValue(`params.${field}`, params[field]);
  }
  return out;
}
