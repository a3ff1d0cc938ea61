import { parseCheckpoint } from '../evidence/checkpoint';
import { parseCosignatureVerifierKey } from '../evidence/cosignature';
import { formatKeyId } from '../evidence/note-key';
import { parseNote } from '../evidence/signed-note';
import { BrokerError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { KeyedMutex } from '../lib/keyed-mutex';
import { addCosignatureLines, requestCosignature, WitnessRefusedError } from './witness-client';

/*
 * The log's side of witnessing: after it signs a checkpoint, ask every
 * configured witness to cosign it and merge the cosignatures into the note.
 * The size each witness last cosigned is remembered per instance (0 at
 * start); a 409 teaches it, and the request is retried once with a proof from
 * there. Requests to one witness run one at a time, so a newer checkpoint
 * never races an older one; witnesses are asked in parallel.
 */

export interface WitnessEndpoint {
  /** The witness's submission prefix, e.g. https://witness.example.org. */
  readonly url: string;
  /** The witness's cosigner verifier key (type 0x04). */
  readonly key: string;
  /** Extra CA certificates (PEM) for an https witness. */
  readonly ca?: string | Buffer;
}

export interface CheckpointWitnessesOptions {
  witnesses: readonly WitnessEndpoint[];
  /** The log's consistency proof between two of its sizes (merkle.consistencyProof over its store). */
  consistencyProof(size1: number, size2: number): Promise<Buffer[]>;
  /** Per request; default 10 s. */
  timeoutMs?: number;
  log?: Logger;
}

export interface WitnessOutcome {
  readonly url: string;
  /** `name+keyid` of the witness key. */
  readonly witness: string;
  readonly cosigned: boolean;
  /** Why not, when not cosigned. */
  readonly error?: string;
  /** True when the witness refused on the merits (400/403/404/422 or a size ahead of ours): look at the log. */
  readonly refused?: boolean;
}

export interface WitnessingResult {
  /** The note with every cosignature obtained added. */
  readonly note: Buffer;
  /** Number of witnesses that cosigned. */
  readonly cosigned: number;
  readonly outcomes: readonly WitnessOutcome[];
}

export class CheckpointWitnesses {
  readonly #witnesses: readonly (WitnessEndpoint & { id: string })[];
  readonly #opts: CheckpointWitnessesOptions;
  readonly #known = new Map<string, number>();
  readonly #mutex = new KeyedMutex();

  constructor(opts: CheckpointWitnessesOptions) {
    this.#opts = opts;
    const ids = new Set<string>();
    this.#witnesses = opts.witnesses.map((w) => {
      const v = parseCosignatureVerifierKey(w.key);
      const id = `${v.name}+${formatKeyId(v.keyId)}`;
      if (ids.has(`${w.url} ${id}`)) throw new BrokerError('invalid_argument', `witness ${w.url} (${id}) is listed twice`);
      ids.add(`${w.url} ${id}`);
      return { ...w, id };
    });
  }

  /** Asks every witness to cosign `note` (a checkpoint signed by the log); never throws for a witness's failure. */
  async cosign(note: Buffer): Promise<WitnessingResult> {
    const { size } = parseCheckpoint(parseNote(note).text);
    const outcomes = await Promise.all(this.#witnesses.map((w) => this.#mutex.run(`${w.url} ${w.id}`, () => this.#one(w, note, size))));
    const lines = outcomes.flatMap((o) => o.lines);
    return {
      note: addCosignatureLines(note, lines),
      cosigned: outcomes.filter((o) => o.outcome.cosigned).length,
      outcomes: outcomes.map((o) => o.outcome),
    };
  }

  async #one(w: WitnessEndpoint & { id: string }, note: Buffer, size: number): Promise<{ outcome: WitnessOutcome; lines: readonly string[] }> {
    const key = `${w.url} ${w.id}`;
    const failed = (error: string, refused = false): { outcome: WitnessOutcome; lines: readonly string[] } => {
      this.#opts.log?.[refused ? 'error' : 'warn']({ witness: w.id, url: w.url, size, error }, 'evidence: witness did not cosign');
      return { outcome: { url: w.url, witness: w.id, cosigned: false, error, ...(refused ? { refused } : {}) }, lines: [] };
    };
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        const old = this.#known.get(key) ?? 0;
        if (old > size) {
          return failed(`the witness has cosigned size ${old}, larger than this checkpoint's ${size}: was the log rolled back?`, true);
        }
        const proof = old === 0 || old === size ? [] : await this.#opts.consistencyProof(old, size);
        const r = await requestCosignature(w.url, { oldSize: old, proof, checkpointNote: note }, {
          witnessKey: w.key,
          timeoutMs: this.#opts.timeoutMs ?? 10_000,
          ...(w.ca !== undefined ? { ca: w.ca } : {}),
        });
        if (r.status === 'cosigned') {
          this.#known.set(key, size);
          return { outcome: { url: w.url, witness: w.id, cosigned: true }, lines: r.signatureLines };
        }
        this.#known.set(key, r.witnessSize);
      }
      return failed(`the witness keeps answering 409 (it last cosigned size ${this.#known.get(key) ?? 0})`);
    } catch (err) {
      if (err instanceof WitnessRefusedError) {
        // A refusal for inconsistency may well mean the witness's view and ours differ: forget its size.
        this.#known.delete(key);
        return failed(err.message, true);
      }
      return failed(err instanceof BrokerError ? err.message : 'unexpected error');
    }
  }
}
