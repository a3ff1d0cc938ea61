import type { Clock } from '../../lib/clock';
import type { Logger } from '../../lib/logger';
import { openCheckpoint } from '../checkpoint';
import type { NoteVerifier } from '../note-key';
import { parseNote } from '../signed-note';
import type { CosignedCheckpointStorage, StoredCheckpoint } from './ledger-storage';

/*
 * Witness cosignatures for the log's checkpoints, collected in the
 * background. The ledger hands over every checkpoint it stores (submit); one
 * request round to the witnesses runs at a time, and a checkpoint signed
 * while one runs replaces any other still waiting, so under load the
 * witnesses see every few checkpoints, never a queue. Appends and signing
 * never wait for a witness. A note with at least one cosignature is stored
 * (append-only) and becomes what GetCheckpoint and `evidence export` hand out.
 */

/** A checkpoint as the ledger holds it. */
export interface CosignableCheckpoint extends StoredCheckpoint {
  readonly origin: string;
}

/** What the ledger calls (Ledger's `witnessing` option). */
export interface CheckpointWitnessing {
  /** A checkpoint was stored: get it cosigned when the witnesses are free. Never throws, never waits. */
  submit(cp: CosignableCheckpoint): void;
  /** The newest cosigned checkpoint (the note carries the cosignatures), if any. */
  latest(): CosignableCheckpoint | undefined;
  /** Drops what waits and lets the request under way finish. */
  close(): Promise<void>;
}

/** Asks witnesses to cosign a note (witness/checkpoint-witnesses.ts implements it). */
export interface CheckpointCosigner {
  cosign(note: Buffer): Promise<{ readonly note: Buffer; readonly cosigned: number }>;
}

export interface CheckpointCosigningOptions {
  cosigner: CheckpointCosigner;
  storage: CosignedCheckpointStorage;
  clock: Clock;
  log?: Logger;
}

export class CheckpointCosigning implements CheckpointWitnessing {
  readonly #opts: CheckpointCosigningOptions;
  #latest: CosignableCheckpoint | undefined;
  #waiting: CosignableCheckpoint | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  private constructor(opts: CheckpointCosigningOptions, latest: CosignableCheckpoint | undefined) {
    this.#opts = opts;
    this.#latest = latest;
  }

  /**
   * Starts from the newest stored cosigned note, when it still opens with
   * the log's keys (`logKeys`) for `origin`.
   */
  static async open(opts: CheckpointCosigningOptions & { origin: string; logKeys: readonly NoteVerifier[] }): Promise<CheckpointCosigning> {
    const stored = await opts.storage.latestCosignedCheckpoint();
    let latest: CosignableCheckpoint | undefined;
    if (stored) {
      try {
        const { checkpoint } = openCheckpoint(stored.note, opts.logKeys, { origin: opts.origin });
        latest = { origin: opts.origin, size: checkpoint.size, rootHash: checkpoint.rootHash, keyId: stored.keyId, note: stored.note, signedAt: stored.cosignedAt };
      } catch (err) {
        opts.log?.warn({ err, size: stored.size }, 'evidence: the stored cosigned checkpoint does not open with the log keys; ignored');
      }
    }
    return new CheckpointCosigning(opts, latest);
  }

  submit(cp: CosignableCheckpoint): void {
    if (this.#closed) return;
    this.#waiting = cp;
    if (!this.#running) this.#running = this.#drain().finally(() => (this.#running = undefined));
  }

  latest(): CosignableCheckpoint | undefined {
    return this.#latest;
  }

  /** Resolves when nothing is waiting or running (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting = undefined;
    await this.#running;
  }

  async #drain(): Promise<void> {
    for (let cp = this.#take(); cp && !this.#closed; cp = this.#take()) {
      try {
        await this.#one(cp);
      } catch (err) {
        this.#opts.log?.error({ err, size: cp.size }, 'evidence: cannot collect or store witness cosignatures');
      }
    }
  }

  #take(): CosignableCheckpoint | undefined {
    const cp = this.#waiting;
    this.#waiting = undefined;
    return cp;
  }

  async #one(cp: CosignableCheckpoint): Promise<void> {
    if (this.#latest && cp.size <= this.#latest.size) return;
    const r = await this.#opts.cosigner.cosign(cp.note);
    if (r.cosigned === 0) return; // each witness's failure is logged by the cosigner
    // Defence in depth: the cosigned note is this checkpoint plus signature lines.
    if (parseNote(r.note).text !== parseNote(cp.note).text) throw new Error('the cosigned note does not carry the checkpoint text');
    await this.#opts.storage.insertCosignedCheckpoint({ size: cp.size, keyId: cp.keyId, note: r.note, cosigners: r.cosigned, cosignedAt: this.#opts.clock.now() });
    if (!this.#latest || cp.size > this.#latest.size) this.#latest = { ...cp, note: r.note };
    this.#opts.log?.debug({ size: cp.size, cosigners: r.cosigned }, 'evidence: checkpoint cosigned');
  }
}
