import { promises as fs } from 'node:fs';
import { BrokerError } from './errors';
import { errCode } from './errno';
import { SecretValue } from './secret-value';

export interface ReadPrivateFileOptions {
  /** How errors name the file, e.g. "evidence signing key". */
  label: string;
  /** Said when the file is missing, e.g. "`secret-broker secrets put` creates it". */
  createHint: string;
  /** Dev mode: accept group/world permissions, with a warning. */
  allowInsecurePermissions?: boolean;
  warn?: (message: string) => void;
  /** An error message for a wrong size, or undefined when the size is fine. */
  checkSize: (size: number) => string | undefined;
}

/** A key file that cannot be used: FAILED_PRECONDITION, naming the file and the problem, never key material. */
export const keyError = (message: string, cause?: unknown): BrokerError =>
  new BrokerError('failed_precondition', message, cause === undefined ? {} : { cause });

/** Whether a key file exists (lstat: a symlink counts); FAILED_PRECONDITION when that cannot be told. */
export async function keyFileExists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if (errCode(err) === 'ENOENT') return false;
    throw keyError(`${path} cannot be checked (${errCode(err)})`, err);
  }
}

/** The largest signer-key file: one line holding a Go-style signer key string (about 100 bytes). */
const MAX_SIGNER_KEY_FILE_BYTES = 4096;

/** Reads a signer-key file (checked as readPrivateFile does) into a SecretValue; the raw bytes are wiped. */
export async function readSignerKeyFile(path: string, o: Omit<ReadPrivateFileOptions, 'checkSize'>): Promise<SecretValue> {
  const raw = await readPrivateFile(path, {
    ...o,
    checkSize: (n) => (n > MAX_SIGNER_KEY_FILE_BYTES ? `is ${n} bytes, too large for a signer key` : undefined),
  });
  try {
    return SecretValue.fromString(raw.toString('utf8').trim());
  } finally {
    raw.fill(0);
  }
}

/**
 * Reads a file that holds key material: it must be a regular file readable by
 * its owner only (unless dev mode allows otherwise, loudly), of a plausible
 * size. Stat and read go through one descriptor, so the file checked is the
 * file read. Errors name the file and what is wrong, never its contents; the
 * caller wipes the returned bytes.
 */
export async function readPrivateFile(path: string, o: ReadPrivateFileOptions): Promise<Buffer> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, 'r');
  } catch (err) {
    const code = errCode(err);
    throw keyError(code === 'ENOENT' ? `${o.label} ${path} does not exist; ${o.createHint}` : `${o.label} ${path} cannot be opened (${code})`, err);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw keyError(`${o.label} ${path} is not a regular file`);
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      const octal = mode.toString(8).padStart(4, '0');
      if (!o.allowInsecurePermissions) {
        throw keyError(`${o.label} ${path} is accessible by group or others (mode ${octal}); run \`chmod 600 ${path}\``);
      }
      o.warn?.(`${o.label} ${path} has insecure mode ${octal}; accepted only because dev mode is on`);
    }
    const sizeProblem = o.checkSize(st.size);
    if (sizeProblem) throw keyError(`${o.label} ${path} ${sizeProblem}`);
    const raw = await fh.readFile();
    const again = o.checkSize(raw.length);
    if (again) {
      raw.fill(0);
      throw keyError(`${o.label} ${path} changed while it was read`);
    }
    return raw;
  } finally {
    await fh.close();
  }
}
