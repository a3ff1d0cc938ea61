import { performance } from 'node:perf_hooks';
import type { Metrics } from '../../metrics/metrics';
import type { Clock } from '../../lib/clock';
import { BrokerError, unavailable } from '../../lib/errors';
import { IdSource } from '../../lib/ids';
import type { Logger } from '../../lib/logger';
import type { BundleSource } from '../bundle';
import { canonicalize } from '../canonical-json';
import { signCheckpoint } from '../checkpoint';
import { consistencyProof, hashLeaf, rootAt, verifyConsistency, type StoredNode } from '../merkle';
import { formatKeyId, parseVerifierKey, type NoteSigner } from '../note-key';
import type { CheckpointWitnessing } from './checkpoint-cosigning';
import { EVIDENCE_TYPES, LEDGER_FIELDS, type EvidenceDraft, type EvidenceRef, type EvidenceSink } from './evidence-sink';
import {
  bundleSourceFor,
  checkCount,
  checkpointOfSize,
  consistencyAgainst,
  readEntry,
  receiptAgainst,
  type LedgerConsistencyProof,
  type LedgerEntry,
} from './ledger-reader';
import { checkLedgerIntegrity } from './integrity-check';
import type { EvidenceKeyStore, PreviousLogKey } from './key-history';
import type { BatchTransaction, EntriesBeforeOptions, LedgerStorage, PreparedBatch, StoredCheckpoint, StoredEntry } from './ledger-storage';
import { appendToEdge, type TreeHead } from './right-edge';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5 * 60_000;

export interface LedgerOptions {
  storage: LedgerStorage;
  /** Times each commit and counts its entries (src/metrics); default none. */
  metrics?: Pick<Metrics, 'evidenceCommitted'>;
  /** The log's origin line; also the signing key's name. */
  origin: string;
  signer: NoteSigner;
  clock: Clock;
  log?: Logger;
  /** Where entry ids come from; the composition root passes its one IdSource (default: a pool of the ledger's own). */
  ids?: Pick<IdSource, 'randomPoolBytes'>;
  /** How often new entries get a checkpoint; default 1 s. */
  checkpointIntervalMs?: number;
  /** A heartbeat entry is written after this long without entries; default 5 min. */
  heartbeatIntervalMs?: number;
  /** The key the latest rotation retired (key-history.ts): it co-signs checkpoints until its overlap ends. */
  previous?: PreviousLogKey;
  /** Every retired log key (verifier keys), oldest first: the checkpoints they signed are accepted at open. */
  retiredKeys?: readonly string[];
  /** Where rotateKey writes the new key; without one, rotateKey is refused. */
  keyStore?: EvidenceKeyStore;
  /** Gets each new checkpoint cosigned by witnesses, in the background (checkpoint-cosigning.ts). */
  witnessing?: CheckpointWitnessing;
}

/** What rotateKey did. */
export interface KeyRotation {
  /** The new log key. */
  readonly verifierKey: string;
  readonly keyId: string;
  readonly previousVerifierKey: string;
  /** Until when (ms) the previous key co-signs. */
  readonly overlapUntil: number;
  /** The `key.rotated` entry. */
  readonly ref: EvidenceRef;
  /** The first checkpoint covering it, signed by both keys. */
  readonly checkpoint: LedgerCheckpoint;
}

/** An operator's reason for a rotation is recorded verbatim; keep it to one short line. */
const MAX_REASON_CHARS = 256;

/** A signed checkpoint with its log's origin. */
export interface LedgerCheckpoint extends StoredCheckpoint {
  readonly origin: string;
}

interface PendingAppend {
  readonly drafts: readonly EvidenceDraft[];
  /**
   * appendWith: runs inside the transaction and gives the drafts (replacing
   * `drafts`), or undefined when its change did not happen.
   */
  readonly change?: () => readonly EvidenceDraft[] | undefined;
  readonly timeMs: number;
  readonly resolve: (refs: EvidenceRef[]) => void;
  readonly reject: (err: unknown) => void;
  /** Set when the batch gave this append its indexes. */
  refs?: EvidenceRef[];
  /** Set when it was refused while building (its entries were invalid). */
  refused?: boolean;
}

interface Batch extends PreparedBatch {
  readonly appends: readonly PendingAppend[];
}

/**
 * The evidence log. `append` is what the broker calls before any effect
 * (invariant 3): appends made in one turn of the event loop become one batch,
 * get consecutive indexes inside the write transaction (so a failed commit
 * can never leave a gap or a duplicate: the next batch reads the head again),
 * and resolve only after the group commit's fsync. Checkpoints are signed at
 * most `checkpointIntervalMs` after entries arrive, each proven consistent
 * with the previous one before it is signed.
 */
export class Ledger implements EvidenceSink {
  readonly origin: string;
  private readonly storage: LedgerStorage;
  private readonly clock: Clock;
  private readonly ids: Pick<IdSource, 'randomPoolBytes'>;
  private readonly log: Logger | undefined;
  private readonly checkpointIntervalMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly retiredKeys: readonly string[];
  private readonly keyStore: EvidenceKeyStore | undefined;
  private readonly witnessing: CheckpointWitnessing | undefined;
  private readonly metrics: Pick<Metrics, 'evidenceCommitted'> | undefined;

  /** The current log key: it signs every checkpoint. */
  #signer: NoteSigner;
  /** The key the latest rotation retired; its signer co-signs until the overlap ends. */
  #previous: PreviousLogKey | undefined;
  /** A `key.rotated` entry to append before the next checkpoint, which both keys sign. */
  #unrecorded: EvidenceDraft | undefined;
  #rotationRef: EvidenceRef | undefined;
  #queue: PendingAppend[] = [];
  #scheduled = false;
  #inflight = new Set<Promise<unknown>>();
  /** Entries known durable (a cache: storage is the truth). */
  #committedSize = 0;
  #lastAppendAt: number;
  #latest: LedgerCheckpoint | undefined;
  #signing: Promise<unknown> = Promise.resolve();
  #broken: BrokerError | undefined;
  #closed = false;
  #timers: NodeJS.Timeout[] = [];

  private constructor(opts: LedgerOptions) {
    this.origin = opts.origin;
    this.storage = opts.storage;
    this.#signer = opts.signer;
    this.#previous = opts.previous;
    this.retiredKeys = opts.retiredKeys ?? (opts.previous ? [opts.previous.verifierKey] : []);
    this.keyStore = opts.keyStore;
    this.witnessing = opts.witnessing;
    this.metrics = opts.metrics;
    this.clock = opts.clock;
    this.ids = opts.ids ?? new IdSource();
    this.log = opts.log;
    this.checkpointIntervalMs = opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#lastAppendAt = opts.clock.now();
  }

  /** The Go-style verifier key of the current log key. */
  get verifierKey(): string {
    return this.#signer.verifierKey;
  }

  /** The current log key's id, 8 hex digits. */
  get keyId(): string {
    return formatKeyId(this.#signer.keyId);
  }

  /**
   * Opens the log over its storage. First checks every stored entry, tree
   * node and checkpoint (integrity-check.ts: O(n), streaming) and refuses
   * (FAILED_PRECONDITION, "evidence: entry N: ...") on any mismatch, or when
   * the last checkpoint is for another origin or was signed by another key
   * (than the current one, or the previous one after a rotation; earlier
   * checkpoints may be signed by any retired key); records a key rotation the
   * log does not show yet; then signs a checkpoint covering every durable
   * entry. Timers start with start().
   */
  static async open(opts: LedgerOptions): Promise<Ledger> {
    if (opts.signer.name !== opts.origin) {
      throw refuse(`the evidence signing key is named ${JSON.stringify(opts.signer.name)}, not after the origin ${JSON.stringify(opts.origin)}`);
    }
    const ledger = new Ledger(opts);
    await ledger.#recover();
    return ledger;
  }

  // The whole stored log is checked against its checkpoints before anything is appended or signed.
  async #recover(): Promise<void> {
    const started = performance.now();
    const previous = this.#previous;
    const report = await checkLedgerIntegrity({
      storage: this.storage,
      origin: this.origin,
      logKey: parseVerifierKey(this.verifierKey),
      olderLogKeys: this.retiredKeys.map(parseVerifierKey),
      ...(previous ? { previousLogKey: parseVerifierKey(previous.verifierKey) } : {}),
      signer: this.#signer,
      ...(previous?.signer ? { previousSigner: previous.signer } : {}),
    });
    this.log?.info(
      { entries: report.size, checkpoints: report.checkpoints, ms: Math.round(performance.now() - started) },
      'evidence log checked against its signed checkpoints',
    );
    if (report.last) this.#latest = { ...report.last, origin: this.origin };
    this.#committedSize = report.size;
    if (previous && report.rotatedTo !== this.keyId) {
      // The daemon stopped between rotating the key files and recording it: record it now.
      this.#unrecorded = rotationDraft(this.#signer, previous.verifierKey, previous.until, { recovered: true });
      this.log?.warn({ key_id: this.keyId }, 'evidence: recording a signing-key rotation that was not recorded before the broker stopped');
    }
    if (!report.last || report.size > report.last.size || this.#unrecorded) await this.signCheckpoint();
  }

  /** Starts the checkpoint and heartbeat timers (unref'd: they never keep the process alive). */
  start(): void {
    if (this.#timers.length > 0 || this.#closed) return;
    const every = (ms: number, fn: () => Promise<unknown>): void => {
      const t = setInterval(() => {
        fn().catch((err: unknown) => this.log?.error({ err }, 'evidence ledger timer failed'));
      }, ms);
      t.unref();
      this.#timers.push(t);
    };
    every(this.checkpointIntervalMs, () => this.#checkpointTick());
    // Checked several times per interval so an idle log gets its heartbeat close to on time.
    every(Math.max(1, Math.floor(this.heartbeatIntervalMs / 10)), () => this.heartbeatIfIdle());
  }

  /** Stops the timers, waits for pending appends, and signs a last checkpoint over them. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await Promise.allSettled([...this.#inflight]);
    if (!this.#broken && this.#committedSize > (this.#latest?.size ?? 0)) {
      await this.signCheckpoint().catch((err: unknown) => this.log?.error({ err }, 'evidence: cannot sign the final checkpoint'));
    }
    await this.#signing;
    await this.witnessing?.close();
  }

  /** Entries known to be durable. */
  get size(): number {
    return this.#committedSize;
  }

  // ---------------------------------------------------------------- append

  append(drafts: readonly EvidenceDraft[]): Promise<EvidenceRef[]> {
    if (this.#closed) return Promise.reject(unavailable('evidence log'));
    if (this.#broken) return Promise.reject(this.#broken);
    if (!Array.isArray(drafts)) return Promise.reject(new BrokerError('invalid_argument', 'evidence drafts: expected an array'));
    if (drafts.length === 0) return Promise.resolve([]);
    try {
      drafts.forEach(checkDraft);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeMs = this.clock.now();
    return new Promise<EvidenceRef[]>((resolve, reject) => {
      this.#queue.push({ drafts, timeMs, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#write();
      }
    });
  }

  /**
   * A conditional change committed with its evidence, or neither (see
   * EvidenceSink.appendWith): `change` runs in this append's transaction, in
   * a savepoint with the entries it leads to, so an entry the log refuses
   * undoes the change too.
   */
  appendWith<T>(change: () => T | undefined, drafts: (value: T) => readonly EvidenceDraft[]): Promise<{ value: T; refs: EvidenceRef[] } | undefined> {
    if (this.#closed) return Promise.reject(unavailable('evidence log'));
    if (this.#broken) return Promise.reject(this.#broken);
    const timeMs = this.clock.now();
    let value: T | undefined;
    return new Promise((resolve, reject) => {
      this.#queue.push({
        drafts: [],
        change: () => {
          value = change();
          if (value === undefined) return undefined;
          const out = drafts(value);
          out.forEach(checkDraft);
          return out;
        },
        timeMs,
        resolve: (refs) => resolve(value === undefined ? undefined : { value, refs }),
        reject,
      });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#write();
      }
    });
  }

  /** Records the policy set the broker now enforces (called at start and on reload). */
  async recordPolicyLoaded(version: string, ids: readonly string[]): Promise<EvidenceRef> {
    const [ref] = await this.append([{ type: 'policy.loaded', policy_version: version, policies: [...ids] }]);
    return ref!;
  }

  /** Appends a heartbeat when nothing was appended for the heartbeat interval. */
  async heartbeatIfIdle(): Promise<EvidenceRef | undefined> {
    if (this.#closed || this.#broken) return undefined;
    if (this.clock.now() - this.#lastAppendAt < this.heartbeatIntervalMs) return undefined;
    const [ref] = await this.append([{ type: 'heartbeat' }]);
    return ref;
  }

  // One storage transaction for everything queued until it runs: it drains the queue itself.
  #write(): void {
    let taken: PendingAppend[] | undefined;
    const started = performance.now();
    const run = this.storage
      .appendBatch((head, tx): Batch => {
        taken = this.#queue;
        this.#queue = [];
        this.#scheduled = false;
        return this.#build(head, taken, tx);
      })
      .then(
        (batch) => {
          if (batch.entries.length > 0) {
            this.#committedSize = Math.max(this.#committedSize, batch.head.size);
            this.#lastAppendAt = this.clock.now();
            this.metrics?.evidenceCommitted(batch.entries, (performance.now() - started) / 1000);
          }
          for (const p of batch.appends) if (p.refs) p.resolve(p.refs);
        },
        (err: unknown) => {
          if (!taken) {
            // The storage failed before the batch was built: fail what waits, and let new appends try again.
            taken = this.#queue;
            this.#queue = [];
            this.#scheduled = false;
          }
          const failure = err instanceof BrokerError && err.kind === 'unavailable' ? err : unavailable('evidence log', err);
          this.log?.error({ err, appends: taken.length }, 'evidence append failed; the requests fail with UNAVAILABLE');
          for (const p of taken) if (!p.refused) p.reject(failure);
        },
      );
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
  }

  /** Pure apart from rejecting appends whose entries are invalid: those get no index. */
  #build(head: TreeHead, appends: readonly PendingAppend[], tx: BatchTransaction): Batch {
    const edge = [...head.edge];
    const entries: StoredEntry[] = [];
    const nodes: StoredNode[] = [];
    const count = appends.reduce((n, p) => n + p.drafts.length, 0);
    const ids = this.ids.randomPoolBytes(16 * count);
    let drawn = 0;
    let next = head.size;
    for (const p of appends) {
      let encoded: StoredEntry[];
      try {
        const time = new Date(p.timeMs).toISOString();
        const change = p.change;
        encoded = change
          ? // The change and its entries as one unit: a refused entry undoes the change.
            tx.atomically(() => {
              const drafts = change() ?? [];
              const own = this.ids.randomPoolBytes(16 * drafts.length);
              return drafts.map((d, i) => this.#encode(d, next + i, p.timeMs, time, own.toString('hex', 16 * i, 16 * (i + 1))));
            })
          : p.drafts.map((d, i) => this.#encode(d, next + i, p.timeMs, time, ids.toString('hex', 16 * drawn, 16 * ++drawn)));
      } catch (err) {
        p.refused = true;
        p.reject(err);
        continue;
      }
      p.refs = encoded.map((e) => {
        // The leaf itself (level 0) is stored with its entry.
        for (const n of appendToEdge(edge, e.index, e.leafHash)) if (n.level > 0) nodes.push(n);
        entries.push(e);
        return { origin: this.origin, index: e.index, leafHash: e.leafHash };
      });
      next += encoded.length;
    }
    return { entries, nodes, head: { size: next, edge }, appends };
  }

  #encode(draft: EvidenceDraft, index: number, timeMs: number, time: string, id: string): StoredEntry {
    // Object.assign, not a spread: spreading drafts of many shapes cost about 4 µs an entry, assign 0.1 µs.
    // checkDraft keeps the ledger's own fields out of drafts, so nothing here is overwritten.
    const bytes = canonicalize(Object.assign({ v: 1, origin: this.origin, index, id, time }, draft));
    return { index, type: draft.type, timeMs, bytes, leafHash: hashLeaf(bytes) };
  }

  // ----------------------------------------------------------- checkpoints

  /** The latest signed checkpoint (there is always one once the ledger is open). */
  latestCheckpoint(): LedgerCheckpoint {
    return this.#latest!;
  }

  /** The newest checkpoint witnesses cosigned (its note carries their cosignatures), if any. */
  latestCosignedCheckpoint(): LedgerCheckpoint | undefined {
    return this.witnessing?.latest();
  }

  /**
   * Signs a checkpoint over every durable entry, unless the latest already
   * covers them. Signings run one at a time, and a checkpoint is signed only
   * after a consistency proof from the previous one checks out; a mismatch
   * stops the ledger (appends then fail with UNAVAILABLE).
   */
  signCheckpoint(): Promise<LedgerCheckpoint> {
    const run = this.#signing.then(() => this.#signNow());
    this.#signing = run.catch(() => undefined);
    return run;
  }

  /** A signed checkpoint that covers entry `index`, signing one now if need be; NOT_FOUND for an entry not yet durable. */
  async checkpointCovering(index: number): Promise<LedgerCheckpoint> {
    checkCount('index', index);
    const latest = this.latestCheckpoint();
    if (index < latest.size) return latest;
    if (index >= this.#committedSize) throw notYet(index, this.#committedSize);
    const cp = await this.signCheckpoint();
    if (index >= cp.size) throw unavailable('evidence checkpoint');
    return cp;
  }

  async #checkpointTick(): Promise<void> {
    if (this.#broken || this.#closed) return;
    if (this.#committedSize > (this.#latest?.size ?? -1)) await this.signCheckpoint();
  }

  async #signNow(): Promise<LedgerCheckpoint> {
    if (this.#broken) throw this.#broken;
    // The checkpoint that first covers a key.rotated entry is signed by both keys, whatever the overlap.
    const rotation = this.#unrecorded;
    if (rotation) {
      [this.#rotationRef] = await this.append([rotation]);
      this.#unrecorded = undefined;
    }
    const last = this.#latest;
    const size = await this.storage.size();
    if (last && size === last.size) return last;
    if (last && size < last.size) {
      throw this.#stop(`the stored evidence log shrank from size ${last.size} to ${size}`);
    }
    const rootHash = await rootAt(size, this.storage);
    if (last && last.size > 0) {
      const proof = await consistencyProof(last.size, size, this.storage);
      if (!verifyConsistency(last.size, size, proof, last.rootHash, rootHash)) {
        throw this.#stop(`the stored evidence tree at size ${size} is not consistent with the checkpoint signed at size ${last.size}`);
      }
    }
    const note = signCheckpoint({ origin: this.origin, size, rootHash }, await this.#signers(rotation !== undefined));
    const cp: LedgerCheckpoint = { origin: this.origin, size, rootHash, keyId: this.keyId, note, signedAt: this.clock.now() };
    await this.storage.insertCheckpoint(cp);
    this.#latest = cp;
    this.#committedSize = Math.max(this.#committedSize, size);
    this.witnessing?.submit(cp);
    return cp;
  }

  /** The current key, and the previous one while its overlap runs (or `both` demands it). */
  async #signers(both: boolean): Promise<NoteSigner[]> {
    const p = this.#previous;
    if (!p?.signer) return [this.#signer];
    if (both || this.clock.now() < p.until) return [this.#signer, p.signer];
    // The overlap is over: only the new key signs from now on, and the old private key goes.
    this.#previous = { verifierKey: p.verifierKey, until: p.until };
    this.log?.info({ key_id: this.keyId, previous_key_id: formatKeyId(p.signer.keyId) }, 'evidence: the previous signing key\'s overlap is over; only the current key signs');
    await this.keyStore?.retirePrevious().catch((err: unknown) => this.log?.error({ err }, 'evidence: cannot delete the previous signing key file'));
    return [this.#signer];
  }

  // ------------------------------------------------------------ key rotation

  /**
   * Rotates the log key: a new Ed25519 key (named after the origin) becomes
   * the current one on disk (key-history.ts), a `key.rotated` entry records
   * it, and the checkpoint covering that entry is signed by both keys, as is
   * every checkpoint until the overlap ends. Runs in turn with signings.
   */
  rotateKey(req: { reason?: string; operator?: string } = {}): Promise<KeyRotation> {
    if (this.#closed) return Promise.reject(unavailable('evidence log'));
    if (!this.keyStore) return Promise.reject(new BrokerError('failed_precondition', 'evidence key rotation is not available on this ledger'));
    const reason = req.reason ?? '';
    if (reason.length > MAX_REASON_CHARS || /[\p{Cc}]/u.test(reason)) {
      return Promise.reject(new BrokerError('invalid_argument', `reason: at most ${MAX_REASON_CHARS} characters on one line`));
    }
    const run = this.#signing.then(() => this.#rotateNow(this.keyStore!, reason, req.operator));
    this.#signing = run.catch(() => undefined);
    return run;
  }

  async #rotateNow(keyStore: EvidenceKeyStore, reason: string, operator: string | undefined): Promise<KeyRotation> {
    if (this.#broken) throw this.#broken;
    // An earlier rotation whose entry could not be written yet goes first.
    if (this.#unrecorded) await this.#signNow();
    const old = this.#signer;
    const { next, until } = await keyStore.rotate(old, this.clock.now());
    this.#signer = next;
    this.#previous = { verifierKey: old.verifierKey, until, signer: old };
    this.#unrecorded = rotationDraft(next, old.verifierKey, until, { ...(reason ? { reason } : {}), ...(operator ? { operator } : {}) });
    this.log?.info({ key_id: this.keyId, previous_key_id: formatKeyId(old.keyId), overlap_until: new Date(until).toISOString() }, 'evidence: signing key rotated');
    const checkpoint = await this.#signNow();
    return { verifierKey: next.verifierKey, keyId: this.keyId, previousVerifierKey: old.verifierKey, overlapUntil: until, ref: this.#rotationRef!, checkpoint };
  }

  #stop(why: string): BrokerError {
    this.log?.fatal({ origin: this.origin }, `evidence ledger stopped: ${why}; no checkpoint is signed and appends fail`);
    this.#broken = unavailable('evidence log', new Error(why));
    return this.#broken;
  }

  // ------------------------------------------------------------------ reads

  /** An acknowledged (durable) entry; NOT_FOUND past the end. */
  async getEntry(index: number): Promise<LedgerEntry> {
    checkCount('index', index);
    if (index >= this.#committedSize) throw notYet(index, this.#committedSize);
    return readEntry(this.storage, index);
  }

  /**
   * Acknowledged (durable) entries below `end`, newest first, read in pages
   * (LedgerReadStorage.entriesBefore); `end` past the durable size means that
   * size. Their bytes are as stored: a receipt (or the start-up check) proves them.
   */
  async *entriesBefore(end: number, opts?: EntriesBeforeOptions): AsyncGenerator<StoredEntry> {
    checkCount('end', end);
    yield* this.storage.entriesBefore(Math.min(end, this.#committedSize), opts);
  }

  /**
   * The c2sp.org/tlog-proof receipt for entry `index`: against the checkpoint
   * signed at `treeSize` when given (non-zero), else against the latest
   * checkpoint (signed now if it does not cover the entry yet).
   */
  async receipt(index: number, treeSize?: number): Promise<Buffer> {
    checkCount('index', index);
    const cp = treeSize ? await checkpointOfSize(this.storage, treeSize) : await this.checkpointCovering(index);
    return receiptAgainst(this.storage, index, cp);
  }

  /** Proof that the tree of `firstSize` is a prefix of the checkpoint signed at `secondSize` (default: the latest). */
  async consistencyProof(firstSize: number, secondSize?: number): Promise<LedgerConsistencyProof> {
    const cp = secondSize ? await checkpointOfSize(this.storage, secondSize, 'second_size') : this.latestCheckpoint();
    return consistencyAgainst(this.storage, firstSize, cp);
  }

  /** An export source pinned to `checkpoint` (default: the latest). */
  bundleSource(checkpoint: StoredCheckpoint = this.latestCheckpoint()): BundleSource {
    return bundleSourceFor(this.storage, checkpoint);
  }
}

function checkDraft(d: EvidenceDraft): void {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new BrokerError('invalid_argument', 'evidence draft: expected an object');
  if (!EVIDENCE_TYPES.includes(d.type)) throw new BrokerError('invalid_argument', `evidence draft: unknown type ${JSON.stringify(String(d.type)).slice(0, 40)}`);
  for (const f of LEDGER_FIELDS) {
    if (Object.prototype.hasOwnProperty.call(d, f)) throw new BrokerError('invalid_argument', `evidence draft: "${f}" is set by the ledger`);
  }
}

/** The `key.rotated` entry: the new verifier key, and the key it replaces. */
function rotationDraft(
  next: Pick<NoteSigner, 'verifierKey' | 'keyId'>,
  previous: string,
  until: number,
  why: { reason?: string; operator?: string; recovered?: boolean },
): EvidenceDraft {
  return {
    type: 'key.rotated',
    verifier_key: next.verifierKey,
    key_id: formatKeyId(next.keyId),
    previous_verifier_key: previous,
    previous_key_id: formatKeyId(parseVerifierKey(previous).keyId),
    overlap_until: new Date(until).toISOString(),
    ...(why.operator ? { operator: why.operator } : {}),
    ...(why.reason ? { reason: why.reason } : {}),
    ...(why.recovered ? { recovered: true } : {}),
  };
}

function notYet(index: number, size: number): BrokerError {
  return new BrokerError('not_found', `evidence entry ${index} not found: the log has ${size} entries`);
}

function refuse(message: string, cause?: unknown): BrokerError {
  return new BrokerError('failed_precondition', `evidence: ${message}`, cause === undefined ? {} : { cause });
}
