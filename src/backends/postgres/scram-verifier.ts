/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802 with
 * SHA-256, RFC 7677), computed in the broker so `CREATE ROLE … PASSWORD` sends
 * the verifier and the plain password never reaches the server or its logs
 * (`log_statement = all` logs the statement verbatim):
 *
 *   SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
 *   StoredKey      = SHA-256(HMAC(SaltedPassword, "Client Key"))
 *   ServerKey      = HMAC(SaltedPassword, "Server Key")
 *   verifier       = SCRAM-SHA-256$<iterations>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>
 *
 * PostgreSQL recognises that form and stores it as is. The passwords the broker
 * makes are ASCII (base64url), so SASLprep leaves them unchanged.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { SecretValue } from '../../lib/secret-value';

/** PostgreSQL's default (scram_iterations). */
export const SCRAM_ITERATIONS = 4096;
const SALT_BYTES = 16;
const pbkdf2Async = promisify(pbkdf2);

/** The verifier for `password` (PBKDF2 runs on libuv's pool, off the event loop). */
export async function scramSha256Verifier(password: SecretValue, opts: { salt?: Buffer; iterations?: number } = {}): Promise<string> {
  const salt = opts.salt ?? randomBytes(SALT_BYTES);
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  const pw = password.reveal();
  let salted: Buffer | undefined;
  try {
    salted = await pbkdf2Async(pw, salt, iterations, 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    clientKey.fill(0);
    return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
  } finally {
    pw.fill(0);
    salted?.fill(0);
  }
}
