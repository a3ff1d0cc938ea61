/**
 * `field` on an AWS secret: a key of the JSON object in its SecretString.
 * Strict: the whole string must be one JSON object and the key's value a
 * string. No error here says anything about the value, not even the parser's
 * message (V8 quotes the start of the text it could not parse), and none
 * keeps the parser's error as a cause.
 */
import { BrokerError, notFound } from '../../lib/errors';
import { SecretValue } from '../../lib/secret-value';

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
  if (!Object.prototype.hasOwnProperty.call(doc, field)) throw notFound(`field "${field}" of ${where}`);
  const value = (doc as Record<string, unknown>)[field];
  if (typeof value !== 'string') {
    throw new BrokerError('failed_precondition', `field "${field}" of ${where} is not a string`);
  }
  return SecretValue.fromString(value);
}
