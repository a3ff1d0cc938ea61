import type { ActionConfig } from '../config/config-types';
import type { ContextValue } from '../leases/lease';
import { canonicalize } from '../evidence/canonical-json';
import { invalidArgument } from '../lib/errors';
import type { Json } from './struct';

const RESOURCE = /^[A-Za-z0-9._~:/@+=-]{1,256}$/;

export function checkResource(resource: string): string {
  if (!RESOURCE.test(resource)) throw invalidArgument('resource', 'empty (the broker renders it) or 1 to 256 characters of letters, digits and ._~:/@+=-');
  return resource;
}

/** A value substituted into a resource template: one segment, so no value can reach into another's place. */
const RESOURCE_SEGMENT = /^[A-Za-z0-9._~-]{1,256}$/;

/**
 * The resource, as the broker renders it from the action's `resource:` and
 * the declared context values; `fieldName` names a field in errors
 * (`params.ticket` at RequestLease, `context.ticket (from path.id)` at Invoke).
 */
export function renderResource(action: ActionConfig, context: Readonly<Record<string, ContextValue>>, fieldName: (field: string) => string): string {
  let out = '';
  for (const part of action.resource.parts) {
    if ('text' in part) {
      out += part.text;
      continue;
    }
    const v = context[part.field];
    const s = typeof v === 'number' ? String(v) : v;
    // "." and ".." are no segment: "ticket/.." would read as a path to whatever consumes the resource.
    if (s === undefined || !RESOURCE_SEGMENT.test(s) || s === '.' || s === '..') {
      throw invalidArgument(fieldName(part.field), `the resource ${action.resource.source} takes it as one segment of letters, digits and ._~- (1 to 256, not . or ..)`);
    }
    out += s;
  }
  return out;
}

/**
 * The stated resource of a new request (RequestLease, one-shot Invoke) must be
 * empty (the broker fills it in) or exactly the rendered one.
 */
export function checkStatedResource(stated: string, rendered: string): string {
  if (stated && stated !== rendered) {
    throw invalidArgument('resource', `is ${JSON.stringify(stated.slice(0, 256))}, but this call is on ${JSON.stringify(rendered)}; leave it empty and the broker fills it in`);
  }
  return rendered;
}

/** The params a lease keeps to re-decide with at every use and renewal (DESIGN: decisions are pure functions of their inputs). */
export const MAX_PARAMS_BYTES = 8 * 1024;

export function checkParams(params: Readonly<Record<string, Json>>): Readonly<Record<string, Json>> {
  let size: number;
  try {
    size = canonicalize(params, { maxBytes: 1 << 20 }).length;
  } catch {
    throw invalidArgument('params', `at most ${MAX_PARAMS_BYTES} bytes of plain JSON`);
  }
  if (size > MAX_PARAMS_BYTES) throw invalidArgument('params', `at most ${MAX_PARAMS_BYTES} bytes as canonical JSON, got ${size} (the lease keeps them to re-decide at every use)`);
  return params;
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
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw invalidArgument(field, `an integer (amounts are in cents), got ${Number.isFinite(v) ? v : 'a non-finite number'}`);
    return v;
  }
  throw invalidArgument(field, 'a string or an integer');
}

/**
 * For RequestLease, each declared context field comes from params.<field> and
 * is required. It is normalized to the type the Invoke will extract, so the
 * lease binds exactly: integer fields (the budget field) are integers, path
 * and query fields are strings (a CLI `--param id=123` stays "123").
 */
export function contextFromParams(action: ActionConfig, params: Readonly<Record<string, Json>>): Record<string, ContextValue> {
  const out: Record<string, ContextValue> = {};
  for (const field of action.contextFields) {
    if (!Object.hasOwn(params, field)) throw invalidArgument(`params.${field}`, `required: ${action.name} declares the context field "${field}"`);
    out[field] = paramContextValue(action, field, params[field]);
  }
  return out;
}

/** params.<field> as the declared context value it stands for (see contextFromParams). */
function paramContextValue(action: ActionConfig, field: string, param: Json | undefined): ContextValue {
  const name = `params.${field}`;
  let v = contextValue(name, param);
  const source = action.http?.context[field] ?? '';
  const integer = action.budget?.field === field;
  if (integer && typeof v === 'string') {
    if (!/^-?(0|[1-9][0-9]{0,15})$/.test(v) || !Number.isSafeInteger(Number(v))) throw invalidArgument(name, 'an integer (amounts are in cents)');
    v = Number(v);
  } else if (!integer && typeof v === 'number' && (source.startsWith('path.') || source.startsWith('query.'))) {
    v = String(v);
  }
  return v;
}

/**
 * For a one-shot Invoke the declared context comes from the call, but the
 * policy also sees the agent's params: a declared field stated there must be
 * the value the call sends (INVALID_ARGUMENT otherwise, before any decision),
 * so `context.params.<field>` can be trusted as at RequestLease, where the
 * context comes from params.
 */
export function checkParamsAgree(action: ActionConfig, params: Readonly<Record<string, Json>>, context: Readonly<Record<string, ContextValue>>): void {
  for (const field of action.contextFields) {
    if (!Object.hasOwn(params, field)) continue;
    if (paramContextValue(action, field, params[field]) !== context[field]) {
      throw invalidArgument(`params.${field}`, `must be what the call sends (context.${field}, from ${action.http?.context[field] ?? 'the call'}), or left out`);
    }
  }
}
