/**
 * The evidence signing key file: one line, the Go-style signer key
 * `PRIVATE+KEY+<origin>+<hex id>+<base64(0x01 ‖ seed)>`, mode 0600. `serve`
 * and `evidence key` create it when missing; outside dev mode a key file the
 * group or others may read is refused.
 */
import { createFileOnce } from '../../lib/durable-files';
import { errCode } from '../../lib/errno';
import { keyError, keyFileExists, readSignerKeyFile } from '../../lib/private-file';
import { generateNoteKey, parseSignerKey, type NoteSigner } from '../note-key';

export interface SigningKeyOptions {
  /** Dev mode only: accept a key file that group or others may read. */
  allowInsecurePermissions?: boolean;
  /** Told when an insecure key file is accepted, so dev mode is announced. */
  warn?: (message: string) => void;
}


/**
 * Reads and checks the signing key for the log `origin`. Errors name the file
 * and what is wrong, never any key material.
 */
export async function loadSigningKey(path: string, origin: string, opts: SigningKeyOptions = {}): Promise<NoteSigner> {
  const text = await readSignerKeyFile(path, { label: 'evidence signing key', createHint: '`secret-broker evidence key --config FILE` creates it', ...opts });
  let signer: NoteSigner;
  try {
    signer = parseSignerKey(text);
  } catch (err) {
    // The library's message names the problem without echoing the key.
    throw keyError(`evidence signing key ${path}: ${(err as Error).message}`, err);
  } finally {
    text.wipe();
  }
  if (signer.name !== origin) {
    throw keyError(
      `evidence signing key ${path} is named ${JSON.stringify(signer.name)}, but evidence.origin is ${JSON.stringify(origin)}; a log key must be named after its origin`,
    );
  }
  return signer;
}

/**
 * Creates the key file if it does not exist, then loads it. Creation writes a
 * 0600 temp file (O_EXCL), fsyncs it and hard-links it into place, so the file
 * is never seen half-written or with a wider mode; of two racing creators
 * exactly one key wins and both use it.
 */
export async function ensureSigningKey(path: string, origin: string, opts: SigningKeyOptions = {}): Promise<{ signer: NoteSigner; created: boolean }> {
  let created = false;
  if (!(await keyFileExists(path))) {
    const { signerKey } = generateNoteKey(origin);
    const data = Buffer.from(`${signerKey.revealString()}\n`, 'utf8');
    signerKey.wipe();
    try {
      created = await createFileOnce(path, data);
    } catch (err) {
      throw keyError(`evidence signing key ${path} could not be created (${errCode(err)})`, err);
    } finally {
      data.fill(0);
    }
  }
  return { signer: await loadSigningKey(path, origin, opts), created };
}

