/**
 * The witness key file: one line, the Go-style signer key
 * `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`, mode 0600. `witness`
 * and `witness key` create it when missing; outside dev mode a key file the
 * group or others may read is refused. Errors name the file, never key bytes.
 */
import { promises as fs } from 'node:fs';
import { createFileOnce } from '../lib/durable-files';
import { errCode } from '../lib/errno';
import { generateCosignerKey, parseCosignerKey } from '../evidence/cosignature';
import type { Clock } from '../lib/clock';
import { BrokerError } from '../lib/errors';
import { SecretValue } from '../lib/secret-value';

const MAX_KEY_FILE_BYTES = 4096;

export interface CosignerKeyOptions {
  /** Dev mode only: accept a key file that group or others may read. */
  allowInsecurePermissions?: boolean;
  /** Told when an insecure key file is accepted, so dev mode is announced. */
  warn?: (message: string) => void;
}

export interface LoadedCosignerKey {
  /** The signer key string; the caller wipes it when done. */
  readonly signerKey: SecretValue;
  readonly name: string;
  readonly verifierKey: string;
}

const keyError = (message: string, cause?: unknown): BrokerError =>
  new BrokerError('failed_precondition', message, cause === undefined ? {} : { cause });

/** Reads and checks the witness key; its name must be `name`. */
export async function loadCosignerKey(path: string, name: string, opts: CosignerKeyOptions = {}): Promise<LoadedCosignerKey> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(path, 'r');
  } catch (err) {
    const code = errCode(err);
    throw keyError(
      code === 'ENOENT' ? `witness key ${path} does not exist; \`secret-broker witness key --config FILE\` creates it` : `witness key ${path} cannot be opened (${code})`,
      err,
    );
  }
  let raw: Buffer;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw keyError(`witness key ${path} is not a regular file`);
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      const octal = mode.toString(8).padStart(4, '0');
      if (!opts.allowInsecurePermissions) throw keyError(`witness key ${path} is accessible by group or others (mode ${octal}); run \`chmod 600 ${path}\``);
      opts.warn?.(`witness key ${path} has insecure mode ${octal}; accepted only because dev_mode is on`);
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw keyError(`witness key ${path} is ${st.size} bytes, too large for a signer key`);
    raw = await fh.readFile();
  } finally {
    await fh.close();
  }
  const signerKey = SecretValue.fromString(raw.toString('utf8').trim());
  raw.fill(0);
  try {
    // Any clock will do: this signer only checks the key and derives the verifier key.
    const signer = parseCosignerKey(signerKey, { now: () => 0 } satisfies Clock);
    if (signer.name !== name) {
      throw keyError(`witness key ${path} is named ${JSON.stringify(signer.name)}, but the config's name is ${JSON.stringify(name)}`);
    }
    return { signerKey, name: signer.name, verifierKey: signer.verifierKey };
  } catch (err) {
    signerKey.wipe();
    if (err instanceof BrokerError && err.kind === 'failed_precondition') throw err;
    throw keyError(`witness key ${path}: ${(err as Error).message}`, err);
  }
}

/**
 * Creates the key file (0600, O_EXCL temp file, fsync, hard link into place)
 * if it does not exist, then loads it. Of two racing creators one key wins.
 */
export async function ensureCosignerKey(path: string, name: string, opts: CosignerKeyOptions = {}): Promise<LoadedCosignerKey & { created: boolean }> {
  let created = false;
  if (!(await exists(path))) {
    const { signerKey } = generateCosignerKey(name);
    const data = Buffer.from(`${signerKey.revealString()}\n`, 'utf8');
    signerKey.wipe();
    try {
      created = await createFileOnce(path, data);
    } catch (err) {
      throw keyError(`witness key ${path} could not be created (${errCode(err)})`, err);
    } finally {
      data.fill(0);
    }
  }
  return { ...(await loadCosignerKey(path, name, opts)), created };
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch (err) {
    if (errCode(err) === 'ENOENT') return false;
    throw keyError(`${path} cannot be checked (${errCode(err)})`, err);
  }
}
