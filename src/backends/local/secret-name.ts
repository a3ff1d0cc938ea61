import { BrokerError } from '../../lib/errors';

/** The names a local secret may have. Kept narrow so names are safe in file formats, logs and AEAD data. */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

/**
 * Throws `invalid_argument` naming `field` unless `name` is a valid secret name.
 * The offending value is not echoed: a mistyped command line can put a secret
 * where a name belongs.
 */
export function assertSecretName(name: unknown, field = 'name'): asserts name is string {
  if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
    throw new BrokerError(
      'invalid_argument',
      `${field}: must be 1 to 128 characters of A-Z a-z 0-9 . _ / -, starting with a letter or digit`,
    );
  }
}

/** Throws `invalid_argument` naming `field` unless `version` is a positive safe integer. */
export function assertVersion(version: unknown, field = 'version'): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new BrokerError('invalid_argument', `${field}: must be a positive integer`);
  }
}
