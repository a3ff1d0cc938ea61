import { BrokerError } from '../lib/errors';
import type { SecretValue } from '../lib/secret-value';
import type { HttpAuth } from './http-action';

/**
 * The credential header for an action: [lower-case name, value]. This is the
 * one place a brokered call reveals its secret. A secret that could break out
 * of a header value (CR, LF, other controls) is refused rather than sent.
 */
export function authHeader(auth: HttpAuth, secret: SecretValue): [string, string] {
  if (secret.length === 0) throw new BrokerError('internal', `secret ${auth.secret} is empty`);
  let name: string;
  let value: string;
  const refuse = (): BrokerError =>
    new BrokerError('internal', `secret ${auth.secret} cannot be sent in a header (it has control, non-ASCII or surrounding whitespace characters)`);
  // Printable ASCII with no surrounding spaces: nothing a server would trim, re-decode or split.
  const printable = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
  switch (auth.kind) {
    case 'bearer': {
      const text = secret.revealString();
      if (!printable.test(text)) throw refuse();
      name = 'authorization';
      value = `Bearer ${text}`;
      break;
    }
    case 'basic': {
      const raw = secret.reveal();
      const pair = Buffer.concat([Buffer.from(`${auth.username}:`, 'utf8'), raw]);
      name = 'authorization';
      value = `Basic ${pair.toString('base64')}`;
      raw.fill(0);
      pair.fill(0);
      break;
    }
    case 'header': {
      const text = secret.revealString();
      if (!printable.test(text)) throw refuse();
      name = auth.header.toLowerCase();
      value = `${auth.prefix ?? ''}${text}`;
      break;
    }
  }
  if (!printable.test(value)) throw refuse();
  return [name, value];
}
