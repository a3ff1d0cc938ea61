/**
 * The local store's master key: a file holding exactly 32 raw random bytes
 * (not hex, not base64), mode 0600. `secrets put` creates it when missing; the
 * daemon only loads it.
 */
import { randomBytes } from 'node:crypto';
import { keyError, keyFileExists, readPrivateFile } from '../../lib/private-file';
import { createFileOnce } from '../../lib/durable-files';
import { errCode } from '../../lib/errno';
import { MASTER_KEY_BYTES } from './sealing';

export interface LoadMasterKeyOptions {
  /** Dev mode only: accept a key file that group or others may access. */
  allowInsecurePermissions?: boolean;
  /** Told when an insecure key file is accepted, so dev mode is announced. */
  warn?: (message: string) => void;
}

export interface EnsureMasterKeyOptions extends LoadMasterKeyOptions {
  /** The sealed file this key protects: if it exists, a missing key is not recreated. */
  sealedFile?: string;
}


/**
 * Reads and checks the key. The caller owns the returned bytes and wipes them
 * (`fill(0)`) when done. Symlinks are followed (Kubernetes mounts secrets
 * through them); the checks apply to the file they lead to.
 */
export async function loadMasterKey(path: string, opts: LoadMasterKeyOptions = {}): Promise<Uint8Array> {
  const raw = await readPrivateFile(path, {
    label: 'master key file',
    createHint: '`secret-broker secrets put` creates it',
    ...opts,
    checkSize: (n) => (n === MASTER_KEY_BYTES ? undefined : `must hold exactly ${MASTER_KEY_BYTES} raw bytes (not hex or base64); it holds ${n}`),
  });
  const key = new Uint8Array(MASTER_KEY_BYTES);
  key.set(raw);
  raw.fill(0);
  return key;
}

/**
 * Creates the key file if it does not exist, else checks the existing one.
 * Creation writes a 0600 temp file (O_EXCL), fsyncs it and hard-links it into
 * place: the key file is never visible partially written or with a wider
 * mode, and if two processes race, exactly one key wins and both use it.
 * Pass `sealedFile` so a lost key is reported instead of silently replaced.
 */
export async function ensureMasterKey(path: string, opts: EnsureMasterKeyOptions = {}): Promise<{ created: boolean }> {
  if (await keyFileExists(path)) {
    (await loadMasterKey(path, opts)).fill(0);
    return { created: false };
  }
  if (opts.sealedFile !== undefined && (await keyFileExists(opts.sealedFile))) {
    // A new key could never open what is already stored; the old key was lost or moved.
    throw keyError(
      `master key file ${path} is missing but sealed file ${opts.sealedFile} exists; restore the key file instead of creating a new one`,
    );
  }
  const key = randomBytes(MASTER_KEY_BYTES);
  let created: boolean;
  try {
    created = await createFileOnce(path, key);
  } catch (err) {
    throw keyError(`master key file ${path} could not be created (${errCode(err)})`, err);
  } finally {
    key.fill(0);
  }
  // Lost a race: check the winner's key like any existing one.
  if (!created) (await loadMasterKey(path, opts)).fill(0);
  return { created };
}

