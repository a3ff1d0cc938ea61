import * as http from 'node:http';
import * as https from 'node:https';
import { parseCosignatureVerifierKey } from '../evidence/cosignature';
import { formatKeyId, type NoteSigner } from '../evidence/note-key';
import { addSignatures, openNote, parseNote } from '../evidence/signed-note';
import { BrokerError } from '../lib/errors';
import {
  ADD_CHECKPOINT_PATH,
  TLOG_SIZE_CONTENT_TYPE,
  formatAddCheckpointBody,
  formatSignatureLine,
  parseSignatureLines,
  parseSizeBody,
} from './add-checkpoint-wire';

/*
 * The log's side of c2sp.org/tlog-witness add-checkpoint, over node:http(s).
 * Every failure is a BrokerError: UNAVAILABLE when the witness cannot be
 * reached or answered badly (timeouts, connection errors, 5xx, garbage), and
 * WitnessRefusedError (FAILED_PRECONDITION) when it refused the checkpoint
 * (400, 403, 404, 422). A 409 is not an error: it tells the log the size
 * the witness last cosigned, so it can retry with a proof from there.
 */

export interface CosignatureRequest {
  /** The size the log believes the witness last cosigned (0 if unknown). */
  readonly oldSize: number;
  /** Consistency proof from oldSize to the checkpoint's size (empty for 0 or equal sizes). */
  readonly proof: readonly Uint8Array[];
  readonly checkpointNote: Uint8Array | string;
}

export interface RequestCosignatureOptions {
  /** Whole-exchange deadline; default 10 s. */
  timeoutMs?: number;
  /**
   * The witness's cosigner verifier key. When given, only signature lines by
   * this key are returned, each verified over the checkpoint; a response with
   * none, or with a bad one, is an error.
   */
  witnessKey?: string;
  /** Extra CA certificates (PEM) for an https witness. */
  ca?: string | Buffer;
  /** Response body limit; default 64 KiB. */
  maxResponseBytes?: number;
  /** An http(s) Agent, e.g. one with keep-alive shared across calls. */
  agent?: http.Agent;
  signal?: AbortSignal;
}

export type CosignatureResponse =
  /** 200: the witness cosigned; each line is `— <name> <base64>\n`. */
  | { readonly status: 'cosigned'; readonly signatureLines: readonly string[] }
  /** 409: the witness last cosigned `witnessSize`; retry with oldSize = witnessSize. */
  | { readonly status: 'conflict'; readonly witnessSize: number };

/** The witness understood the request and refused to cosign. */
export class WitnessRefusedError extends BrokerError {
  /** The HTTP status: 400 malformed or rollback, 403 signature, 404 unknown log, 422 inconsistent. */
  readonly status: number;
  /** The witness's one-line explanation, sanitised and shortened. */
  readonly detail: string;

  constructor(url: string, status: number, detail: string) {
    super('failed_precondition', `witness ${url} refused the checkpoint (HTTP ${status}${detail ? `: ${detail}` : ''})`);
    this.name = 'WitnessRefusedError';
    this.status = status;
    this.detail = detail;
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/** `url` is the witness's submission prefix; `/add-checkpoint` is appended. */
export async function requestCosignature(url: string, req: CosignatureRequest, opts: RequestCosignatureOptions = {}): Promise<CosignatureResponse> {
  const target = endpoint(url);
  // Bad arguments are the caller's bug, not the witness's: they throw as is.
  const body = formatAddCheckpointBody({ oldSize: req.oldSize, consistencyProof: req.proof, checkpointNote: req.checkpointNote });
  const verifier = opts.witnessKey === undefined ? undefined : parseCosignatureVerifierKey(opts.witnessKey);
  const res = await post(target, body, opts);
  const where = target.href;
  const text = res.body.toString('utf8');

  if (res.status === 409) {
    const size = res.contentType === TLOG_SIZE_CONTENT_TYPE ? parseSizeBody(text) : undefined;
    if (size === undefined) throw new BrokerError('unavailable', `witness ${where} answered 409 without a ${TLOG_SIZE_CONTENT_TYPE} size`);
    return { status: 'conflict', witnessSize: size };
  }
  if (res.status === 200) {
    let sigs;
    try {
      sigs = parseSignatureLines(text);
    } catch (err) {
      throw new BrokerError('unavailable', `witness ${where} answered 200 with a body that is not signature lines`, { cause: err });
    }
    if (!verifier) return { status: 'cosigned', signatureLines: sigs.map(formatSignatureLine) };
    const mine = sigs.filter((s) => s.name === verifier.name && s.keyId === verifier.keyId).map(formatSignatureLine);
    const keyName = `${verifier.name}+${formatKeyId(verifier.keyId)}`;
    if (mine.length === 0) throw new BrokerError('unavailable', `witness ${where} returned no cosignature by its key ${keyName}`);
    try {
      openNote(`${parseNote(req.checkpointNote).text}\n${mine.join('')}`, [verifier]);
    } catch (err) {
      throw new BrokerError('unavailable', `witness ${where} returned a cosignature by ${keyName} that does not verify`, { cause: err });
    }
    return { status: 'cosigned', signatureLines: mine };
  }
  if (res.status === 400 || res.status === 403 || res.status === 404 || res.status === 422) {
    throw new WitnessRefusedError(where, res.status, sanitize(text));
  }
  throw new BrokerError('unavailable', `witness ${where} answered HTTP ${res.status}`);
}

/**
 * Adds witness signature lines (as requestCosignature returns them) to a
 * checkpoint note, replacing an earlier signature by the same key. The lines
 * are not verified here.
 */
export function addCosignatureLines(note: Uint8Array | string, lines: readonly string[]): Buffer {
  if (lines.length === 0) return Buffer.from(typeof note === 'string' ? Buffer.from(note, 'utf8') : note);
  const sigs = parseSignatureLines(lines.join(''));
  // A signer that replays a received signature lets addSignatures keep its replace-by-key rule.
  const replay = sigs.map(
    (s): NoteSigner => ({ name: s.name, keyId: s.keyId, type: 0, verifierKey: '', sign: () => Buffer.from(s.signature) }),
  );
  return addSignatures(note, replay);
}

function endpoint(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BrokerError('invalid_argument', `witness url ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BrokerError('invalid_argument', `witness url ${u.href} is not http or https`);
  if (u.search || u.hash || u.username || u.password) throw new BrokerError('invalid_argument', `witness url ${u.origin}: give the submission prefix only`);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${ADD_CHECKPOINT_PATH}`;
  return u;
}

interface RawResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

function post(target: URL, body: Buffer, opts: RequestCosignatureOptions): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const max = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const where = target.href;
  return new Promise<RawResponse>((resolve, reject) => {
    let done = false;
    let request: http.ClientRequest | undefined;
    const fail = (message: string, cause?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      request?.destroy();
      reject(new BrokerError('unavailable', `witness ${where}: ${message}`, cause === undefined ? {} : { cause }));
    };
    const succeed = (r: RawResponse): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const onAbort = (): void => fail('request aborted');
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    const options: https.RequestOptions = {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length), accept: 'text/plain, text/x.tlog.size' },
      ...(opts.agent ? { agent: opts.agent } : {}),
      ...(target.protocol === 'https:' && opts.ca !== undefined ? { ca: opts.ca } : {}),
    };
    const onResponse = (res: http.IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got > max) fail(`the response is over ${max} bytes`);
        else chunks.push(chunk);
      });
      res.once('end', () =>
        succeed({ status: res.statusCode ?? 0, contentType: res.headers['content-type']?.split(';')[0]?.trim().toLowerCase(), body: Buffer.concat(chunks) }),
      );
      res.once('error', (err) => fail(`the response broke off (${describeError(err)})`, err));
      res.once('aborted', () => fail('the response broke off'));
    };
    try {
      request = (target.protocol === 'https:' ? https : http).request(target, options, onResponse);
    } catch (err) {
      return fail(`cannot send the request (${describeError(err)})`, err);
    }
    request.once('error', (err) => fail(`cannot reach the witness (${describeError(err)})`, err));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    request.end(body);
  });
}

function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? (e?.message ? e.message.split('\n')[0]! : 'unknown error');
}

/** The witness's explanation as one short printable line. */
function sanitize(text: string): string {
  const line = text.split('\n')[0]!.replace(/[^\x20-\x7e]/g, '?');
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}
