/**
 * The witness key file: one line, the Go-style signer key
 * `PRIVATE+KEY+<name>+<hex id>+<base64(0x04 ‖ seed)>`, mode 0600. `witness`
 * and `witness key` create it when missing; outside dev mode a key file the
 * group or others may read is refused. Errors name the file, never key bytes.
 */
import { createFileOnce } from '../lib/durable-files';
import { errCode } from '../lib/errno';
import { generateCosignerKey, parseCosignerKey } from '../evidence/cosignature';
import type { Clock } from '../lib/clock';
import { BrokerError } from '../lib/errors';
import { keyError, keyFileExists, readSignerKeyFile } from '../lib/private-file';
import { SecretValue } from '../lib/secret-value';

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


/** Reads and checks the witness key; its name must be `name`. */
export async function loadCosignerKey(path: string, name: string, opts: CosignerKeyOptions = {}): Promise<LoadedCosignerKey> {
  const signerKey = await readSignerKeyFile(path, { label: 'witness key', createHint: '`secret-broker witness key --config FILE` creates it', ...opts });
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
  if (!(await keyFileExists(path))) {
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

