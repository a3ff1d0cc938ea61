import type { Struct__Output } from '../gen/google/protobuf/Struct';
import type { Value__Output } from '../gen/google/protobuf/Value';
import type { Struct } from '../gen/google/protobuf/Struct';
import type { Value } from '../gen/google/protobuf/Value';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** google.protobuf.Struct (as proto-loader decodes it) → plain JSON. */
export function structToJson(s: Struct__Output | null | undefined): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: Value__Output): Json {
  switch (v.kind) {
    case 'nullValue':
      return null;
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'structValue':
      return structToJson(v.structValue);
    case 'listValue':
      return (v.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

export function jsonToStruct(obj: Readonly<Record<string, unknown>>): Struct {
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): Value {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}
