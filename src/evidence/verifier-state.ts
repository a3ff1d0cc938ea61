import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { EvidenceError } from './evidence-error';
import { HASH_SIZE } from './merkle-hash';
import { decodeBase64Strict } from './strict-encoding';

/*
 * What an offline verifier remembers between runs: the last checkpoint it
 * accepted for each (origin, log key id). A later checkpoint must be
 * consistent with it, so a log cannot roll back or fork without the auditor
 * noticing. JSON, written atomically (temp file + rename).
 */

export const STATE_FORMAT = 'secret-broker/verifier-state@v1';

export interface AcceptedCheckpoint {
  readonly origin: string;
  /** The log key id, 8 lowercase hex digits. */
  readonly keyId: string;
  readonly size: number;
  /** Base64 root hash. */
  readonly rootHash: string;
  /** The signed checkpoint note as accepted, for showing in a rollback or fork report. */
  readonly note: string;
}

export interface VerifierState {
  readonly format: typeof STATE_FORMAT;
  readonly accepted: readonly AcceptedCheckpoint[];
}

export const emptyVerifierState = (): VerifierState => ({ format: STATE_FORMAT, accepted: [] });

/** Reads the state file; a missing file is an empty state (first use). */
export async function readVerifierState(file: string): Promise<VerifierState> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyVerifierState();
    throw new EvidenceError('EVIDENCE_STATE_INVALID', 'unreadable', `cannot read verifier state ${file}`, { cause: err });
  }
  const bad = (why: string): EvidenceError => new EvidenceError('EVIDENCE_STATE_INVALID', 'malformed', `verifier state ${file}: ${why}`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const s = v as { format?: unknown; accepted?: unknown };
  if (typeof v !== 'object' || v === null || s.format !== STATE_FORMAT || !Array.isArray(s.accepted)) throw bad(`not a ${STATE_FORMAT} file`);
  const accepted = s.accepted.map((a: unknown, i): AcceptedCheckpoint => {
    const r = a as Record<string, unknown>;
    const ok =
      typeof a === 'object' && a !== null &&
      typeof r.origin === 'string' &&
      typeof r.keyId === 'string' && /^[0-9a-f]{8}$/.test(r.keyId) &&
      typeof r.size === 'number' && Number.isSafeInteger(r.size) && r.size >= 0 &&
      typeof r.rootHash === 'string' && decodeBase64Strict(r.rootHash)?.length === HASH_SIZE &&
      typeof r.note === 'string';
    if (!ok) throw bad(`accepted[${i}] is malformed`);
    return { origin: r.origin as string, keyId: r.keyId as string, size: r.size as number, rootHash: r.rootHash as string, note: r.note as string };
  });
  return { format: STATE_FORMAT, accepted };
}

/** Writes the state atomically: a crash leaves the old file or the new one, never a torn one. */
export async function writeVerifierState(file: string, state: VerifierState): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new EvidenceError('EVIDENCE_STATE_INVALID', 'unwritable', `cannot write verifier state ${file}`, { cause: err });
  }
}

export function acceptedFor(state: VerifierState, origin: string, keyId: string): AcceptedCheckpoint | undefined {
  return state.accepted.find((a) => a.origin === origin && a.keyId === keyId);
}

/** The state with `rec` replacing any earlier record for its (origin, key id). */
export function withAccepted(state: VerifierState, rec: AcceptedCheckpoint): VerifierState {
  return {
    format: STATE_FORMAT,
    accepted: [...state.accepted.filter((a) => !(a.origin === rec.origin && a.keyId === rec.keyId)), rec],
  };
}
