import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { BrokerError } from '../lib/errors';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotli = promisify(zlib.brotliDecompress);

export const tooLarge = (action: string, limit: number): BrokerError =>
  new BrokerError('resource_exhausted', `the upstream response of action ${action} exceeds its limit of ${limit} bytes`);

const isSizeError = (err: unknown): boolean =>
  err instanceof RangeError || (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE');

async function decodeOne(encoding: string, data: Buffer, limit: number): Promise<Buffer> {
  const opts = { maxOutputLength: limit };
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return gunzip(data, opts);
    case 'br':
      return brotli(data, opts);
    case 'deflate':
      // "deflate" is zlib-wrapped by the RFC, but some servers send it raw.
      try {
        return await inflate(data, opts);
      } catch (err) {
        if (isSizeError(err)) throw err;
        return inflateRaw(data, opts);
      }
    default:
      throw new Error(`unsupported content encoding ${encoding.slice(0, 32)}`);
  }
}

/**
 * Undoes Content-Encoding so the body can be scrubbed. Each step stops at
 * `limit` output bytes, so a small compressed bomb cannot exhaust memory.
 * An encoding we cannot undo is an error: we could not scrub what we cannot read.
 */
export async function decodeResponseBody(action: string, raw: Buffer, contentEncoding: string | undefined, limit: number): Promise<Buffer> {
  const encodings = (contentEncoding ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '' && e !== 'identity');
  let data = raw;
  if (data.length === 0) return data;
  for (const encoding of encodings.reverse()) {
    try {
      data = await decodeOne(encoding, data, limit);
    } catch (err) {
      if (isSizeError(err)) throw tooLarge(action, limit);
      throw new BrokerError('unavailable', `the upstream of action ${action} sent a response that could not be decoded`, { cause: err });
    }
  }
  if (data.length > limit) throw tooLarge(action, limit);
  return data;
}
