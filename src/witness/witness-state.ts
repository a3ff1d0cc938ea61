import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirDurable, writeFileAtomic } from '../lib/durable-files';
import { errCode } from '../lib/errno';
import { HASH_SIZE } from '../evidence/merkle-hash';
import { decodeBase64Strict, encodeBase64 } from '../evidence/strict-encoding';
import { BrokerError } from '../lib/errors';
import { WitnessError } from './witness-error';

/*
 * The witness's memory: for each log origin, the last checkpoint it cosigned.
 * One JSON file, mode 0600, replaced atomically (temp file, fsync, rename,
 * fsync of the directory), so after a crash it holds the old record or the
 * new one, never a torn file. A missing file is a witness that has cosigned
 * nothing; a malformed one stops the witness (forgetting would allow a
 * rollback).
 *
 *   { "format": "secret-broker/witness-state@v1",
 *     "logs": [ { "origin", "size", "root_hash", "note", "cosigned_at" } ] }
 */

export const WITNESS_STATE_FORMAT = 'secret-broker/witness-state@v1';
const MAX_STATE_BYTES = 64 * 1024 * 1024;

export interface WitnessedCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  /** The checkpoint as cosigned: its text, the verified log signatures and this witness's cosignature. */
  readonly note: string;
  /** Milliseconds since the epoch (the witness clock) when it was cosigned. */
  readonly cosignedAt: number;
}

export type WitnessState = ReadonlyMap<string, WitnessedCheckpoint>;

/** Reads the state file; a missing file is an empty state. */
export async function readWitnessState(file: string): Promise<WitnessState> {
  let text: string;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_STATE_BYTES) throw new Error('file too large');
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if (errCode(err) === 'ENOENT') return new Map();
    throw new BrokerError('failed_precondition', `witness state ${file} cannot be read (${errCode(err) === 'unknown error' ? (err as Error).message : errCode(err)})`, { cause: err });
  }
  const bad = (why: string): BrokerError =>
    new BrokerError('failed_precondition', `witness state ${file}: ${why}; refusing to start rather than forget what was cosigned`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const top = v as { format?: unknown; logs?: unknown };
  if (typeof v !== 'object' || v === null || top.format !== WITNESS_STATE_FORMAT || !Array.isArray(top.logs)) {
    throw bad(`not a ${WITNESS_STATE_FORMAT} file`);
  }
  const state = new Map<string, WitnessedCheckpoint>();
  top.logs.forEach((item: unknown, i) => {
    const r = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const root = typeof r.root_hash === 'string' ? decodeBase64Strict(r.root_hash) : undefined;
    const ok =
      typeof r.origin === 'string' && r.origin.length > 0 &&
      typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0 &&
      root !== undefined && root.length === HASH_SIZE &&
      typeof r.note === 'string' &&
      typeof r.cosigned_at === 'number' && Number.isSafeInteger(r.cosigned_at);
    if (!ok) throw bad(`logs[${i}] is malformed`);
    if (state.has(r.origin as string)) throw bad(`logs[${i}] repeats origin ${JSON.stringify(r.origin)}`);
    state.set(r.origin as string, { origin: r.origin as string, size: r.size as number, rootHash: root, note: r.note as string, cosignedAt: r.cosigned_at as number });
  });
  return state;
}

/** Serialises a state, origins sorted, so equal states give equal bytes. */
export function formatWitnessState(state: WitnessState): string {
  const logs = [...state.values()]
    .sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0))
    .map((c) => ({ origin: c.origin, size: c.size, root_hash: encodeBase64(c.rootHash), note: c.note, cosigned_at: c.cosignedAt }));
  return `${JSON.stringify({ format: WITNESS_STATE_FORMAT, logs }, null, 2)}\n`;
}

/** Durably replaces the state file (0600). Throws WITNESS_UNAVAILABLE on failure. */
export async function writeWitnessState(file: string, state: WitnessState): Promise<void> {
  try {
    await makeDirDurable(dirname(file), 0o700);
    await writeFileAtomic(file, Buffer.from(formatWitnessState(state), 'utf8'), { mode: 0o600 });
  } catch (err) {
    throw new WitnessError('WITNESS_UNAVAILABLE', 'state-unwritable', `the witness cannot persist its state (${errCode(err)}); nothing was cosigned`, { cause: err });
  }
}
