import { dirname } from 'node:path';
import { makeDirDurable, removeOrphanTemps } from '../lib/durable-files';
import { errCode } from '../lib/errno';
import { acquireFileLock, type HeldLock } from '../backends/local/file-lock';
import { openCheckpoint, parseCheckpoint, type Checkpoint, type OpenedCheckpoint } from '../evidence/checkpoint';
import { parseCosignerKey } from '../evidence/cosignature';
import { EvidenceError } from '../evidence/evidence-error';
import { emptyRoot } from '../evidence/merkle-hash';
import { verifyConsistency } from '../evidence/merkle-verify';
import { SIG_TYPE_COSIGNATURE_V1, formatKeyId, parseVerifierKey, type NoteSigner, type NoteVerifier } from '../evidence/note-key';
import { addSignatures, parseNote } from '../evidence/signed-note';
import type { Clock } from '../lib/clock';
import { BrokerError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { SecretValue } from '../lib/secret-value';
import { MAX_PROOF_LINES, formatSignatureLine, type AddCheckpointRequest } from './add-checkpoint-wire';
import { KeyedMutex } from '../lib/keyed-mutex';
import { WitnessError } from './witness-error';
import { readWitnessState, writeWitnessState, type WitnessState, type WitnessedCheckpoint } from './witness-state';

/*
 * A c2sp.org/tlog-witness witness: for each log it is configured for, it
 * remembers the last checkpoint it cosigned and cosigns a new one only when it
 * is consistent growth from it. The new record is durable (witness-state.ts)
 * before a cosignature leaves addCheckpoint. Requests for one origin run one
 * at a time (check and persist are atomic, as the spec demands); different
 * origins run concurrently and share one serialised state-file writer. One
 * process owns a state file: open() takes `<state>.lock` for the witness's
 * lifetime.
 */

/** A log the witness serves: its origin and one of its Ed25519 (0x01) verifier keys, named after the origin. */
export interface WitnessLog {
  readonly origin: string;
  readonly key: string;
}

export interface WitnessOptions {
  /** The JSON state file; created 0600 on the first cosignature. */
  statePath: string;
  /** The witness's cosigner key `PRIVATE+KEY+<name>+<id>+<base64(0x04 ‖ seed)>`. */
  signerKey: SecretValue | string;
  /** The logs to witness; an origin may be listed more than once with different keys (rotation). */
  logs: readonly WitnessLog[];
  /** Cosignature timestamps come from here. */
  clock: Clock;
  log?: Logger;
  /** How long open() waits for another process to release the state file; default 2 s. */
  lockTimeoutMs?: number;
}

export interface CosignResult {
  readonly checkpoint: Checkpoint;
  /** The witness's cosignature lines, each `— <name> <base64>\n` (the add-checkpoint 200 body, in order). */
  readonly signatureLines: readonly string[];
  /** The checkpoint with the log signatures the witness verified and its cosignature. */
  readonly cosignedNote: Buffer;
}

export class Witness {
  readonly #statePath: string;
  readonly #cosigner: NoteSigner;
  readonly #logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #lock: HeldLock;
  readonly #originLocks = new KeyedMutex();
  readonly #fileLock = new KeyedMutex();
  readonly #inFlight = new Set<Promise<unknown>>();
  #state: WitnessState;
  #closed = false;

  private constructor(args: {
    statePath: string;
    cosigner: NoteSigner;
    logs: ReadonlyMap<string, readonly NoteVerifier[]>;
    clock: Clock;
    log: Logger | undefined;
    lock: HeldLock;
    state: WitnessState;
  }) {
    this.#statePath = args.statePath;
    this.#cosigner = args.cosigner;
    this.#logs = args.logs;
    this.#clock = args.clock;
    this.#log = args.log;
    this.#lock = args.lock;
    this.#state = args.state;
  }

  /** Checks the keys, locks the state file and reads it. */
  static async open(opts: WitnessOptions): Promise<Witness> {
    const cosigner = cosignerFrom(opts.signerKey, opts.clock);
    const logs = logVerifiers(opts.logs);
    const lockPath = `${opts.statePath}.lock`;
    let lock: HeldLock;
    try {
      await makeDirDurable(dirname(opts.statePath), 0o700);
      lock = await acquireFileLock(lockPath, {
        clock: opts.clock,
        timeoutMs: opts.lockTimeoutMs ?? 2000,
        // A live holder is never judged stale by age: only a dead pid on this host frees it.
        staleMs: Number.MAX_SAFE_INTEGER,
        what: `witness state ${opts.statePath}`,
      });
    } catch (err) {
      throw new BrokerError(
        'unavailable',
        `witness state ${opts.statePath} is in use by another witness process (or its directory is unusable: ${errCode(err)}); if none runs, remove ${lockPath}`,
        { cause: err },
      );
    }
    try {
      await removeOrphanTemps(opts.statePath);
      const state = await readWitnessState(opts.statePath);
      return new Witness({ statePath: opts.statePath, cosigner, logs, clock: opts.clock, log: opts.log, lock, state });
    } catch (err) {
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  /** The witness key name. */
  get name(): string {
    return this.#cosigner.name;
  }

  /** The cosigner verifier key `<name>+<id>+<base64(0x04 ‖ pubkey)>` that clients configure. */
  get verifierKey(): string {
    return this.#cosigner.verifierKey;
  }

  /** The configured origins. */
  get origins(): readonly string[] {
    return [...this.#logs.keys()];
  }

  /** The last checkpoint cosigned for `origin`, if any. */
  latest(origin: string): WitnessedCheckpoint | undefined {
    return this.#state.get(origin);
  }

  /**
   * tlog-witness add-checkpoint. Throws WitnessError: WITNESS_MALFORMED (400),
   * WITNESS_BAD_SIGNATURE (403), WITNESS_UNKNOWN_LOG (404), WITNESS_CONFLICT
   * (409, with witnessSize), WITNESS_INCONSISTENT (422), WITNESS_UNAVAILABLE
   * (the state could not be persisted: nothing is returned, nothing changes).
   */
  addCheckpoint(req: AddCheckpointRequest): Promise<CosignResult> {
    if (this.#closed) return Promise.reject(new WitnessError('WITNESS_UNAVAILABLE', 'closed', 'the witness is shutting down'));
    const p = this.#add(req);
    this.#inFlight.add(p);
    const done = (): void => void this.#inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Refuses new requests, waits for those under way, and releases the state file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.#lock.release();
  }

  async #add(req: AddCheckpointRequest): Promise<CosignResult> {
    const { oldSize, consistencyProof: proof } = req;
    if (!Number.isSafeInteger(oldSize) || oldSize < 0) throw malformed('bad-old-size', 'old size must be a non-negative integer');
    if (proof.length > MAX_PROOF_LINES) throw malformed('proof-too-long', `a consistency proof has at most ${MAX_PROOF_LINES} hashes`);

    let cp: Checkpoint;
    try {
      cp = parseCheckpoint(parseNote(req.checkpointNote).text);
    } catch (err) {
      throw malformed(err instanceof EvidenceError ? err.reason : 'malformed', `checkpoint: ${(err as Error).message}`, err);
    }
    const verifiers = this.#logs.get(cp.origin);
    if (!verifiers) throw new WitnessError('WITNESS_UNKNOWN_LOG', 'unknown-origin', `this witness is not configured for log ${JSON.stringify(cp.origin)}`);
    let opened: OpenedCheckpoint;
    try {
      opened = openCheckpoint(req.checkpointNote, verifiers, { origin: cp.origin });
    } catch (err) {
      throw new WitnessError(
        'WITNESS_BAD_SIGNATURE',
        err instanceof EvidenceError ? err.reason : 'bad-signature',
        `checkpoint of ${cp.origin} at size ${cp.size} has no valid signature by a trusted log key: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (oldSize > cp.size) {
      this.#reportMisbehaviour(cp, req, 'rollback');
      throw malformed('rollback', `old size ${oldSize} is larger than the checkpoint size ${cp.size}: a witness never cosigns a smaller tree`);
    }
    return this.#originLocks.run(cp.origin, () => this.#cosignIfConsistent(cp, opened, req));
  }

  /** Runs under the origin's lock: compare, cosign, persist, return. */
  async #cosignIfConsistent(cp: Checkpoint, opened: OpenedCheckpoint, req: AddCheckpointRequest): Promise<CosignResult> {
    const recorded = this.#state.get(cp.origin);
    const size0 = recorded?.size ?? 0;
    const root0 = recorded?.rootHash ?? emptyRoot();
    const { oldSize, consistencyProof: proof } = req;
    if (oldSize !== size0) {
      throw new WitnessError('WITNESS_CONFLICT', 'old-size-mismatch', `old size ${oldSize} is not ${size0}, the size this witness last cosigned for ${cp.origin}`, {
        witnessSize: size0,
      });
    }
    const inconsistent = (reason: string, why: string, cause?: unknown): WitnessError => {
      this.#reportMisbehaviour(cp, req, reason);
      return new WitnessError('WITNESS_INCONSISTENT', reason, `${cp.origin} at size ${cp.size}: ${why}`, cause === undefined ? {} : { cause });
    };
    if (cp.size === 0 && !cp.rootHash.equals(emptyRoot())) throw inconsistent('bad-empty-root', 'a checkpoint of size 0 must have the root of the empty tree');
    if (oldSize === 0) {
      if (proof.length > 0) throw inconsistent('proof-not-empty', 'the consistency proof from size 0 must be empty');
    } else if (oldSize === cp.size) {
      if (proof.length > 0) throw inconsistent('proof-not-empty', 'the consistency proof between equal sizes must be empty');
      if (!cp.rootHash.equals(root0)) throw inconsistent('fork', `fork: the witness cosigned another root for size ${oldSize}`);
    } else {
      let ok: boolean;
      try {
        ok = verifyConsistency(oldSize, cp.size, proof, root0, cp.rootHash);
      } catch (err) {
        throw inconsistent('bad-proof', `the consistency proof from size ${oldSize} is malformed: ${(err as Error).message}`, err);
      }
      if (!ok) throw inconsistent('fork', `the tree is not consistent with the one of size ${oldSize} this witness cosigned (a fork, or a wrong proof)`);
    }

    const now = this.#clock.now();
    if (!(now >= 1000)) {
      // tlog-witness: the timestamp MUST NOT be zero.
      throw new WitnessError('WITNESS_UNAVAILABLE', 'clock', 'the witness clock is not set (a cosignature timestamp must not be zero)');
    }
    const logNote = `${opened.note.text}\n${opened.logSignatures.map(formatSignatureLine).join('')}`;
    const cosignedNote = addSignatures(logNote, [this.#cosigner]);
    const signatureLines = parseNote(cosignedNote)
      .signatures.filter((s) => s.name === this.#cosigner.name && s.keyId === this.#cosigner.keyId)
      .map(formatSignatureLine);

    const record: WitnessedCheckpoint = { origin: cp.origin, size: cp.size, rootHash: cp.rootHash, note: cosignedNote.toString('utf8'), cosignedAt: now };
    // Persist before anything is returned; a failure returns no cosignature and changes nothing.
    await this.#fileLock.run('state', async () => {
      const next = new Map(this.#state);
      next.set(cp.origin, record);
      await writeWitnessState(this.#statePath, next);
      this.#state = next;
    });
    this.#log?.info({ origin: cp.origin, size: cp.size, old_size: oldSize }, 'witness: cosigned checkpoint');
    return { checkpoint: cp, signatureLines, cosignedNote };
  }

  /** tlog-witness: a validly signed checkpoint that fails consistency "might be proof of log misbehavior". */
  #reportMisbehaviour(cp: Checkpoint, req: AddCheckpointRequest, reason: string): void {
    const recorded = this.#state.get(cp.origin);
    const note = typeof req.checkpointNote === 'string' ? req.checkpointNote : Buffer.from(req.checkpointNote).toString('utf8');
    this.#log?.warn(
      { origin: cp.origin, reason, size: cp.size, old_size: req.oldSize, recorded_size: recorded?.size ?? 0, checkpoint: note, recorded_checkpoint: recorded?.note },
      'witness: refused a validly signed checkpoint that is not consistent growth',
    );
  }
}

function cosignerFrom(key: SecretValue | string, clock: Clock): NoteSigner {
  try {
    const signer = parseCosignerKey(key, clock);
    if (signer.type !== SIG_TYPE_COSIGNATURE_V1) throw new Error('not a cosigner key');
    return signer;
  } catch (err) {
    throw new BrokerError('invalid_argument', `witness key: ${(err as Error).message}`, { cause: err });
  }
}

function logVerifiers(logs: readonly WitnessLog[]): Map<string, NoteVerifier[]> {
  if (logs.length === 0) throw new BrokerError('invalid_argument', 'a witness needs at least one log');
  const out = new Map<string, NoteVerifier[]>();
  for (const l of logs) {
    let v: NoteVerifier;
    try {
      v = parseVerifierKey(l.key);
    } catch (err) {
      throw new BrokerError('invalid_argument', `witness log ${l.origin}: ${(err as Error).message}`, { cause: err });
    }
    if (v.name !== l.origin) {
      throw new BrokerError('invalid_argument', `witness log ${l.origin}: key ${v.name}+${formatKeyId(v.keyId)} is not named after the origin`);
    }
    const list = out.get(l.origin) ?? [];
    if (!list.some((k) => k.verifierKey === v.verifierKey)) list.push(v);
    out.set(l.origin, list);
  }
  return out;
}

function malformed(reason: string, message: string, cause?: unknown): WitnessError {
  return new WitnessError('WITNESS_MALFORMED', reason, message, cause === undefined ? {} : { cause });
}
