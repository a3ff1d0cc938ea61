/**
 * Names that become Vault URL paths. Checked here (the config loader checks
 * them too) so that a name can never climb out of its mount or add a query:
 * segments of letters, digits, "_", "." and "-", never "." or "..".
 */
import { BrokerError } from '../../lib/errors';

const KV_NAME = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function assertKvName(name: unknown): asserts name is string {
  if (
    typeof name !== 'string' ||
    name.length > 512 ||
    !KV_NAME.test(name) ||
    name.split('/').some((seg) => seg === '.' || seg === '..')
  ) {
    throw new BrokerError('invalid_argument', 'name: expected a Vault KV path such as app/stripe (segments of letters, digits, "_", "." or "-"; no "." or ".." segments)');
  }
}

export function assertRole(role: unknown): asserts role is string {
  if (typeof role !== 'string' || !ROLE.test(role)) {
    throw new BrokerError('invalid_argument', 'role: expected a Vault database role name (letters, digits, "_", "." or "-"; one path segment)');
  }
}

export function assertVersion(version: unknown): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new BrokerError('invalid_argument', 'version: expected a positive integer');
  }
}

export function assertField(field: unknown): asserts field is string {
  if (typeof field !== 'string' || field.length === 0 || field.length > 256) {
    throw new BrokerError('invalid_argument', 'field: expected a key of the secret\'s data (1 to 256 characters)');
  }
}

/** Encodes each segment (the patterns above leave nothing to encode; this is the second net). */
export function encodePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}
