import { BrokerError } from '../../lib/errors';
import type { BundleEntry } from '../bundle';
import { parseCanonical } from '../canonical-json';
import { openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint } from '../checkpoint';
import { EvidenceError } from '../evidence-error';
import { emptyRoot, hashChildren, hashLeaf, type StoredNode } from '../merkle';
import { formatKeyId, type NoteSigner, type NoteVerifier } from '../note-key';
import { parseNote } from '../signed-note';
import type { LedgerReadStorage, StoredCheckpoint } from './ledger-storage';
import { appendToEdge } from './right-edge';

/*
 * The start-up integrity check: the whole stored log, recomputed from its
 * entry bytes, against every stored checkpoint. The stored leaf hashes and
 * tree nodes are compared, never trusted, so one changed byte anywhere is
 * found, and named by the first entry it affects.
 *
 * It streams: entries in index order (the storage reads them in pages), the
 * stored hashes for a batch of entries in one getNodes call, and checkpoints
 * one at a time in size order. Memory is O(batch + log n) whatever the size.
 */

/** Entries whose stored hashes are compared in one getNodes call. */
export const INTEGRITY_BATCH = 1024;

export interface IntegrityCheckOptions {
  storage: LedgerReadStorage;
  /** The configured origin: every entry's `origin` field and every checkpoint's origin line. */
  origin: string;
  /** The configured log key: the last checkpoint must be signed by it. */
  logKey: NoteVerifier;
  /** Older log keys that may have signed earlier checkpoints (after a key rotation). */
  olderLogKeys?: readonly NoteVerifier[];
  /**
   * The key retired by the latest rotation: the last checkpoint may be signed
   * by it instead of logKey (the daemon stopped after the new key was written,
   * before it signed a checkpoint).
   */
  previousLogKey?: NoteVerifier;
  /**
   * The log key's signer, if at hand. Ed25519 signatures are deterministic,
   * so a checkpoint note that equals the one this signer makes for the same
   * tree is proven without the (3x slower) verification.
   */
  signer?: NoteSigner;
  /** The previous key's signer during a rotation's overlap: the same shortcut for notes it (co-)signed. */
  previousSigner?: NoteSigner;
  /** Entries per batch of stored-hash reads; default INTEGRITY_BATCH. */
  batch?: number;
  /**
   * For a reader while the daemon appends (`evidence export`): check only up
   * to the last checkpoint read at the start, and skip the rollback test,
   * which a checkpoint signed meanwhile would trip. The daemon's own start-up
   * check (the log is quiescent) leaves it off and checks every stored entry.
   */
  upToLastCheckpoint?: boolean;
}

export interface IntegrityReport {
  /** Stored entries, all checked. */
  readonly size: number;
  /** Stored checkpoints checked (one per distinct tree size: the last signed at that size). */
  readonly checkpoints: number;
  /** The last signed checkpoint, if any. */
  readonly last: StoredCheckpoint | undefined;
  /** The key id (8 hex digits) the last `key.rotated` entry introduced, if any. */
  readonly rotatedTo: string | undefined;
}

/**
 * The stored log does not match itself or its signed checkpoints. A
 * FAILED_PRECONDITION whose message starts "evidence: ", then, when entries
 * are at fault, "entry N: " (or "entries N..M: " when only a range can be
 * named) with `index` set to N.
 */
export class LedgerIntegrityError extends BrokerError {
  /** Short machine-readable reason, e.g. `leaf-mismatch`. */
  readonly reason: string;
  /** The first bad entry (the first of the range when only a range is known). */
  readonly index: number | undefined;

  constructor(reason: string, message: string, opts: { index?: number; range?: number; cause?: unknown } = {}) {
    const where =
      opts.index === undefined ? '' : opts.range !== undefined && opts.range > opts.index ? `entries ${opts.index}..${opts.range}: ` : `entry ${opts.index}: `;
    super('failed_precondition', `evidence: ${where}${message}`, opts.cause === undefined ? {} : { cause: opts.cause });
    this.name = 'LedgerIntegrityError';
    this.reason = reason;
    this.index = opts.index;
  }
}

/**
 * Checks the stored log, in this order, stopping at the first fault:
 *
 * 1. The last checkpoint: a well-formed note for the configured origin whose
 *    size and root equal its columns, signed by the configured log key (or
 *    the previous one, see previousLogKey); and no checkpoint of a larger
 *    size was signed before it (a rollback).
 * 2. Every entry, in index order: stored (no gap), RFC 8785 canonical JSON,
 *    an object whose `index` is its row index and whose `origin` is the
 *    configured origin; hashLeaf(bytes) equals the stored leaf hash; and
 *    every tree node the entry completes equals the stored node.
 * 3. Every stored checkpoint, when the stream reaches its size: well-formed,
 *    for the origin, matching its columns, signed by a log key (the current
 *    one or an older one from the key history), and its root
 *    equal to the root recomputed from the entries. All checkpoints are thus
 *    prefixes of one tree, so each is consistent with every earlier one.
 * 4. The stored entries reach the last checkpoint's size (else the first
 *    missing index is named).
 *
 * With `upToLastCheckpoint` it stops at the last checkpoint read at the start
 * (for readers while the daemon appends). Storage read failures other than a
 * missing entry or node pass through (UNAVAILABLE).
 */
export async function checkLedgerIntegrity(opts: IntegrityCheckOptions): Promise<IntegrityReport> {
  return new IntegrityCheck(opts).run();
}

class IntegrityCheck {
  private readonly storage: LedgerReadStorage;
  private readonly origin: string;
  private readonly logKeys: readonly NoteVerifier[];
  /** Keys the last checkpoint may be signed by. */
  private readonly lastKeys: readonly NoteVerifier[];
  /** The last checkpoint is signed by the previous key only (a rotation not signed for yet). */
  private lastByPreviousOnly = false;
  /** The index of the first key.rotated entry that introduced the current key. */
  private currentKeyFrom: number | undefined;
  /** Signers whose deterministic notes are compared instead of verified. */
  private readonly signers: readonly NoteSigner[];
  private rotatedTo: string | undefined;
  private readonly batch: number;

  // The right edge of the tree streamed so far, and the nodes it created that are still to be compared.
  private readonly edge: StoredNode[] = [];
  private pending: StoredNode[] = [];
  /** The largest checkpoint size whose root matched (the start of the range to blame if a later one does not). */
  private lastMatched = 0;
  private checkpoints = 0;
  /** The note already verified in step 1, so it is not verified twice. */
  private verifiedNote: Buffer | undefined;
  /** The next checkpoint (in size order) the stream will reach. */
  private next: StoredCheckpoint | undefined;
  private lastSize: number | undefined;
  private readonly pinned: boolean;

  constructor(private readonly opts: IntegrityCheckOptions) {
    this.storage = opts.storage;
    this.origin = opts.origin;
    this.lastKeys = [opts.logKey, ...(opts.previousLogKey ? [opts.previousLogKey] : [])];
    this.logKeys = [...this.lastKeys, ...(opts.olderLogKeys ?? [])];
    const known = new Set(this.logKeys.map((k) => k.verifierKey));
    this.signers = [opts.signer, opts.previousSigner].filter((s): s is NoteSigner => s !== undefined && known.has(s.verifierKey));
    this.batch = Math.max(1, opts.batch ?? INTEGRITY_BATCH);
    this.pinned = opts.upToLastCheckpoint === true;
  }

  async run(): Promise<IntegrityReport> {
    const last = await this.storage.latestCheckpoint();
    if (last) await this.checkLast(last);
    const stored = await this.storage.size();
    const size = this.pinned ? Math.min(stored, last?.size ?? 0) : stored;
    this.lastSize = last?.size;

    this.next = await this.nextCheckpoint(0);
    await this.reach(0);
    const entries = this.storage.entries(0, size)[Symbol.asyncIterator]();
    try {
      await this.stream(entries, size);
    } finally {
      await entries.return?.();
    }
    const cp = this.next;
    if (cp) {
      const whose = cp.size === last?.size ? `the last signed checkpoint's ${cp.size}` : `the checkpoint signed at size ${cp.size}`;
      throw missing(size, `the state database holds ${size} evidence entries, fewer than ${whose}`);
    }
    if (last && this.lastByPreviousOnly && this.currentKeyFrom !== undefined && this.currentKeyFrom < last.size) {
      // The checkpoint that covers a key.rotated entry is always signed by the new key: this one is not.
      throw new LedgerIntegrityError(
        'wrong-key',
        `the last evidence checkpoint (size ${last.size}) covers the key.rotated entry ${this.currentKeyFrom} for the configured signing key ${formatKeyId(this.opts.logKey.keyId)}, but is signed only by the previous key`,
      );
    }
    return { size, checkpoints: this.checkpoints, last, rotatedTo: this.rotatedTo };
  }

  /** Steps 2 and 3: entries 0..size-1 in order, each checkpoint when the stream reaches its size. */
  private async stream(entries: AsyncIterator<BundleEntry>, size: number): Promise<void> {
    let index = 0;
    let inBatch = 0;
    while (index < size) {
      let r: IteratorResult<BundleEntry>;
      try {
        r = await entries.next();
      } catch (err) {
        await this.flush();
        if (err instanceof EvidenceError && err.reason === 'missing-entry') throw missing(index, `it is not stored, though entries up to ${size - 1} are`, err);
        throw storeError(`the stored evidence entries cannot be read from entry ${index} on`, err);
      }
      if (r.done || r.value.index !== index) {
        await this.flush();
        throw missing(index, `it is not stored, though entries up to ${size - 1} are`);
      }
      const checked = checkEntry(r.value.bytes, index, this.origin);
      if ('fault' in checked) {
        // A fault in the stored hashes of an earlier entry comes first.
        await this.flush();
        throw new LedgerIntegrityError(checked.fault[0], checked.fault[1], { index });
      }
      if (checked.fields['type'] === 'key.rotated' && typeof checked.fields['key_id'] === 'string') {
        this.rotatedTo = checked.fields['key_id'];
        if (this.rotatedTo === formatKeyId(this.opts.logKey.keyId)) this.currentKeyFrom ??= index;
      }
      for (const n of appendToEdge(this.edge, index, hashLeaf(r.value.bytes))) this.pending.push(n);
      index++;
      if (++inBatch >= this.batch) {
        inBatch = 0;
        await this.flush();
      }
      if (this.next?.size === index) await this.reach(index);
    }
    await this.flush();
  }

  /** Checks every checkpoint of size n (the stream has exactly n entries), then finds the next one. */
  private async reach(n: number): Promise<void> {
    while (this.next && this.next.size === n) {
      await this.flush();
      this.checkCheckpoint(this.next, n === this.lastSize);
      this.next = await this.nextCheckpoint(n + 1);
    }
  }

  /** The next checkpoint in size order (the last signed at its size); pinned, none past the last one. */
  private async nextCheckpoint(from: number): Promise<StoredCheckpoint | undefined> {
    const c = await this.storage.checkpointAtLeast(from);
    return c && this.pinned && c.size > (this.lastSize ?? 0) ? undefined : c;
  }

  /** Step 1: the last checkpoint, checked before anything is streamed. */
  private async checkLast(last: StoredCheckpoint): Promise<void> {
    const what = `the last stored evidence checkpoint (size ${last.size})`;
    const cp = this.parse(last, what);
    if (cp.origin !== this.origin) {
      throw new LedgerIntegrityError(
        'wrong-origin',
        `the evidence log in the state database has origin ${JSON.stringify(cp.origin)}, but evidence.origin is ${JSON.stringify(this.origin)}`,
      );
    }
    this.matchColumns(last, cp, what);
    if (!this.signedBy(last, cp, [this.opts.logKey])) this.lastByPreviousOnly = true;
    if (this.lastByPreviousOnly && !this.signedBy(last, cp, this.lastKeys)) {
      throw new LedgerIntegrityError(
        'wrong-key',
        `the last evidence checkpoint (size ${last.size}) was signed by key ${last.keyId}, not by the configured signing key ${formatKeyId(this.opts.logKey.keyId)}; restore that key file`,
      );
    }
    this.verifiedNote = last.note;
    if (this.pinned) return;
    const larger = await this.storage.checkpointAtLeast(last.size + 1);
    if (larger) {
      throw new LedgerIntegrityError(
        'rollback',
        `a checkpoint of size ${larger.size} was signed before the last one, of size ${last.size}: the stored log was rolled back`,
      );
    }
  }

  /** Step 3, at the moment the stream has exactly cp.size entries and every stored hash so far has matched. */
  private checkCheckpoint(stored: StoredCheckpoint, isLast: boolean): void {
    const what = isLast ? `the last stored evidence checkpoint (size ${stored.size})` : `the stored evidence checkpoint of size ${stored.size}`;
    if (!(this.verifiedNote?.equals(stored.note) ?? false)) {
      const cp = this.parse(stored, what);
      if (cp.origin !== this.origin) {
        throw new LedgerIntegrityError('wrong-origin', `${what} has origin ${JSON.stringify(cp.origin)}, not ${JSON.stringify(this.origin)}`);
      }
      this.matchColumns(stored, cp, what);
      if (!this.signedBy(stored, cp, this.logKeys)) {
        throw new LedgerIntegrityError('bad-signature', `${what} (key id ${stored.keyId}) is not signed by the log key`);
      }
    }
    const root = rootOf(this.edge);
    if (!root.equals(stored.rootHash)) {
      const from = this.lastMatched;
      throw new LedgerIntegrityError(
        'root-mismatch',
        `the stored entries and their tree nodes give another root at size ${stored.size} than the signed checkpoint of that size` +
          (from > 0 ? ` (the one at size ${from} matches)` : '') +
          ': entries in this range were rewritten with their stored hashes after it was signed, or that checkpoint forks from the log',
        { index: from, range: stored.size - 1 },
      );
    }
    this.lastMatched = stored.size;
    this.checkpoints++;
  }

  private parse(stored: StoredCheckpoint, what: string): Checkpoint {
    try {
      return parseCheckpoint(parseNote(stored.note).text);
    } catch (err) {
      throw new LedgerIntegrityError('checkpoint-malformed', `${what} is malformed`, { cause: err });
    }
  }

  private matchColumns(stored: StoredCheckpoint, cp: Checkpoint, what: string): void {
    if (cp.size !== stored.size || !cp.rootHash.equals(stored.rootHash)) {
      throw new LedgerIntegrityError('checkpoint-columns', `${what} does not match its own note`);
    }
  }

  private signedBy(stored: StoredCheckpoint, cp: Checkpoint, keys: readonly NoteVerifier[]): boolean {
    if (this.signedByOurSigners(stored, cp, keys)) return true;
    try {
      openCheckpoint(stored.note, keys, { origin: this.origin });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The shortcut: when every signature line of the note is by a signer at
   * hand (one of them a key allowed here), re-signing gives the same bytes
   * exactly when the note is genuine.
   */
  private signedByOurSigners(stored: StoredCheckpoint, cp: Checkpoint, keys: readonly NoteVerifier[]): boolean {
    if (this.signers.length === 0) return false;
    let lines;
    try {
      lines = parseNote(stored.note).signatures;
    } catch {
      return false;
    }
    const by = lines.map((l) => this.signers.find((s) => s.name === l.name && s.keyId === l.keyId));
    if (by.length === 0 || by.some((s) => s === undefined)) return false;
    if (!by.some((s) => keys.some((k) => k.verifierKey === s!.verifierKey))) return false;
    try {
      return signCheckpoint(cp, by as NoteSigner[]).equals(stored.note);
    } catch {
      return false;
    }
  }

  /** Compares the nodes created since the last flush with the stored ones, first entry first. */
  private async flush(): Promise<void> {
    const nodes = this.pending;
    if (nodes.length === 0) return;
    this.pending = [];
    let stored: Buffer[];
    try {
      stored = await this.storage.getNodes(nodes);
    } catch (err) {
      if (!(err instanceof EvidenceError)) throw err;
      stored = await this.oneByOne(nodes);
    }
    nodes.forEach((n, i) => {
      if (!n.hash.equals(stored[i]!)) throw nodeFault(n, 'does not match');
    });
  }

  /** After a failed batch read: the stored hashes up to the first node that cannot be read. */
  private async oneByOne(nodes: readonly StoredNode[]): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (const n of nodes) {
      try {
        out.push((await this.storage.getNodes([n]))[0]!);
      } catch (err) {
        throw nodeFault(n, 'is missing', err);
      }
      if (!n.hash.equals(out[out.length - 1]!)) throw nodeFault(n, 'does not match');
    }
    return out;
  }
}

/** The fields of entry `index`, or why its bytes cannot be entry `index` of this log. */
function checkEntry(bytes: Buffer, index: number, origin: string): { fault: [reason: string, why: string] } | { fields: Record<string, unknown> } {
  let value: unknown;
  try {
    value = parseCanonical(bytes);
  } catch (err) {
    return { fault: ['entry-not-canonical', `its bytes are not RFC 8785 canonical JSON (${(err as Error).message.replace(/^\$: /, '')})`] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { fault: ['entry-not-object', 'its bytes are not a JSON object'] };
  const fields = value as Record<string, unknown>;
  if (fields['index'] !== index) return { fault: ['entry-index-mismatch', `its index field is ${brief(fields['index'])}, not ${index}`] };
  if (fields['origin'] !== origin) return { fault: ['entry-origin-mismatch', `its origin field is ${brief(fields['origin'])}, not the log's ${JSON.stringify(origin)}`] };
  return { fields };
}

function nodeFault(n: StoredNode, what: string, cause?: unknown): LedgerIntegrityError {
  const opts = cause === undefined ? { index: n.index } : { index: n.index, cause };
  if (n.level === 0) {
    return new LedgerIntegrityError(
      what === 'is missing' ? 'leaf-missing' : 'leaf-mismatch',
      `its bytes do not hash to its stored leaf hash${what === 'is missing' ? ' (which is missing)' : ''}: the entry or its leaf hash was changed`,
      opts,
    );
  }
  const width = 2 ** n.level;
  const start = n.index * width;
  return new LedgerIntegrityError(
    what === 'is missing' ? 'node-missing' : 'node-mismatch',
    `the stored tree node (level ${n.level}, index ${n.index}) over entries ${start}..${start + width - 1} ${what === 'is missing' ? 'is missing' : 'does not match the hash of those entries'}`,
    { ...opts, index: start },
  );
}

function missing(index: number, why: string, cause?: unknown): LedgerIntegrityError {
  return new LedgerIntegrityError('entry-missing', `missing: ${why}`, cause === undefined ? { index } : { index, cause });
}

function storeError(message: string, cause: unknown): BrokerError {
  if (cause instanceof BrokerError && cause.kind === 'unavailable') return cause;
  return new LedgerIntegrityError('unreadable', message, { cause });
}

/** The RFC 6962 root of a tree from its right edge (complete subtrees, largest first). */
function rootOf(edge: readonly StoredNode[]): Buffer {
  if (edge.length === 0) return emptyRoot();
  let acc = edge[edge.length - 1]!.hash;
  for (let i = edge.length - 2; i >= 0; i--) acc = hashChildren(edge[i]!.hash, acc);
  return acc;
}

/** A field value for an error message: numbers and short strings as JSON, anything else by its type. */
function brief(v: unknown): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
  if (typeof v === 'string') return v.length <= 100 ? JSON.stringify(v) : 'a long string';
  return Array.isArray(v) ? 'an array' : 'an object';
}
