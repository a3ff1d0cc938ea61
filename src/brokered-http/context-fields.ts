import { invalidArgument } from '../lib/errors';
import type { ContextField, HttpActionSpec } from './http-action';
import type { QueryPairs } from './query-params';
import { isJsonNumber, isJsonObject, type JsonValue } from './strict-json';

/** Context values are strings or integers: the policy engine (Cedar) has no floats, and amounts are integer cents. */
export type ContextValue = string | number;

const INTEGER_TEXT = /^-?(0|[1-9][0-9]*)$/;

/** A decimal integer within the exact range of a double; "-0", "1.0", "1e2" and "007" are refused as ambiguous. */
function integerFrom(text: string): number | undefined {
  if (!INTEGER_TEXT.test(text) || text === '-0') return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function fromText(field: ContextField, text: string): ContextValue {
  if (!field.integer) return text;
  const n = integerFrom(text);
  if (n === undefined) throw invalidArgument(`context.${field.name}`, `${field.source} must be a decimal integer within ±(2^53-1) (amounts are integer cents)`);
  return n;
}

function fromJson(field: ContextField, value: JsonValue): ContextValue {
  if (isJsonNumber(value)) {
    const n = integerFrom(value.text);
    if (n === undefined) throw invalidArgument(`context.${field.name}`, `${field.source} must be a plain JSON integer within ±(2^53-1) (amounts are integer cents; no fraction or exponent)`);
    return n;
  }
  if (field.integer) throw invalidArgument(`context.${field.name}`, `${field.source} must be a JSON integer`);
  if (typeof value === 'string') return value;
  throw invalidArgument(`context.${field.name}`, `${field.source} must be a string or an integer`);
}

function lookupBody(body: JsonValue | undefined, keys: readonly string[]): JsonValue | undefined {
  let cur: JsonValue | undefined = body;
  for (const k of keys) {
    if (cur === undefined || !isJsonObject(cur)) return undefined;
    cur = cur.get(k);
  }
  return cur;
}

/**
 * Reads every declared context field from the call. A missing field is an
 * error: authority is bound to these values, so "absent" must not slip past
 * a lease that names one.
 */
export function extractContext(
  spec: HttpActionSpec,
  call: { params: Readonly<Record<string, string>>; query: QueryPairs; body: JsonValue | undefined },
): Record<string, ContextValue> {
  const out: Record<string, ContextValue> = {};
  for (const field of spec.contextFields) {
    const from = field.from;
    let value: ContextValue | undefined;
    if (from.kind === 'path') {
      const v = call.params[from.param];
      if (v !== undefined) value = fromText(field, v);
    } else if (from.kind === 'query') {
      const pair = call.query.find(([k]) => k === from.name);
      if (pair) value = fromText(field, pair[1]);
    } else {
      const v = lookupBody(call.body, from.keys);
      if (v !== undefined) value = fromJson(field, v);
    }
    if (value === undefined) throw invalidArgument(`context.${field.name}`, `${field.source} is required`);
    out[field.name] = value;
  }
  return out;
}
