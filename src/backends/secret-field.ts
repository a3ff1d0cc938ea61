/**
 * `field`: one key of a secret's JSON object, shared by the stores that hold
 * maps (Vault KV v2's data map, an AWS JSON SecretString). Strict: the key's
 * value must be a JSON string, never converted. No error here says anything
 * about the value, not even the parser's message (V8 quotes the start of the
 * text it could not parse), and none keeps the parser's error as a cause.
 * `where` names the secret and its backend.
 */
import { BrokerError, notFound } from '../lib/errors';
import { SecretValue } from '../lib/secret-value';

/** `field` of a map the store already parsed. */
export function fieldOf(map: Record<string, unknown>, field: string, where: string): SecretValue {
  if (!Object.prototype.hasOwnProperty.call(map, field)) throw notFound(`field "${field}" of ${where}`);
  const value = map[field];
  if (typeof value !== 'string') {
    throw new BrokerError('failed_precondition', `field "${field}" of ${where} is not a string`);
  }
  return SecretValue.fromString(value);
}

/** `field` of a secret stored as JSON text, which must be one JSON object. */
export function pickField(text: string, field: string, where: string): SecretValue {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BrokerError('failed_precondition', `field "${field}": ${where} is not a JSON object, so it has no fields`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new BrokerError('failed_precondition', `field "${field}": ${where} is not a JSON object, so it has no fields`);
  }
  return fieldOf(doc as Record<string, unknown>, field, where);
}
