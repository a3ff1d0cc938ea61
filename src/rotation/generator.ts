import { randomInt } from 'node:crypto';
import type { RotationConfig } from '../config/config-types';
import { SecretValue } from '../lib/secret-value';

/** The default alphabet of `generator: { kind: random }`: letters and digits. */
export const DEFAULT_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A new value for `rotation.generator`: `length` characters drawn uniformly
 * (crypto.randomInt, no modulo bias) from the alphabet. No shell commands.
 * The caller owns (and wipes) the value.
 */
export function generateValue(g: RotationConfig['generator']): SecretValue {
  const alphabet = Buffer.from(g.alphabet ?? DEFAULT_ALPHABET, 'ascii');
  const out = Buffer.alloc(g.length);
  try {
    for (let i = 0; i < g.length; i++) out[i] = alphabet[randomInt(alphabet.length)]!;
    return SecretValue.fromBytes(out);
  } finally {
    out.fill(0);
  }
}
