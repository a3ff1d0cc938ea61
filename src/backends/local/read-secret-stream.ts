import { BrokerError } from '../../lib/errors';
import { SecretValue } from '../../lib/secret-value';

/**
 * Reads a whole secret from `stream` (stdin for `secrets put`: secrets never
 * travel in argv). One trailing newline (`\n` or `\r\n`) is removed, since
 * `echo` and editors add one. Empty input and input over `maxBytes` (after that
 * newline is removed) are rejected. Every buffer that held the secret is
 * zeroed before returning or throwing.
 */
export async function readSecretFromStream(stream: NodeJS.ReadableStream, maxBytes: number): Promise<SecretValue> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new BrokerError('invalid_argument', 'maxBytes: must be a positive integer');
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let oversized = false;
  try {
    try {
      for await (const chunk of stream) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
        chunks.push(buf);
        total += buf.length;
        // Room for the newline that will be stripped, and not a byte more kept.
        if (total > maxBytes + 2) {
          oversized = true;
          break;
        }
      }
    } catch (err) {
      throw new BrokerError('unavailable', 'value: reading the secret from stdin failed', { cause: err });
    }
    const all = Buffer.concat(chunks, total);
    chunks.push(all);
    let end = all.length;
    if (end > 0 && all[end - 1] === 0x0a) {
      end -= 1;
      if (end > 0 && all[end - 1] === 0x0d) end -= 1;
    }
    if (oversized || end > maxBytes) {
      throw new BrokerError('invalid_argument', `value: the secret on stdin is longer than ${maxBytes} bytes`);
    }
    if (end === 0) {
      throw new BrokerError('invalid_argument', 'value: the secret on stdin is empty; pipe the value in, e.g. `secret-broker secrets put NAME --config F < file`');
    }
    return SecretValue.fromBytes(all.subarray(0, end));
  } finally {
    for (const c of chunks) c.fill(0);
  }
}
