import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  BUNDLE_TOP_LEVEL,
  CHECKPOINT_FILE,
  CONSISTENCY_DIR,
  ENTRIES_DIR,
  ENTRY_EXTENSION,
  MANIFEST_FILE,
  PROOFS_DIR,
  consistencyFile,
  entryFile,
  indexFromFileName,
  parseConsistencyProof,
  parseManifest,
  proofFile,
  sizesFromConsistencyFileName,
} from './bundle-layout';
import { MAX_ENTRY_BYTES, parseCanonical } from './canonical-json';
import { openCheckpoint, type Checkpoint, type OpenedCheckpoint } from './checkpoint';
import { cosignatureTimestamp, parseCosignatureVerifierKey } from './cosignature';
import { EvidenceError } from './evidence-error';
import { StreamingTreeHasher } from './merkle-stream';
import { verifyConsistency } from './merkle-verify';
import { SIG_TYPE_COSIGNATURE_V1, decodeVerifierKey, formatKeyId, type NoteVerifier } from './note-key';
import { MAX_NOTE_BYTES } from './signed-note';
import { decodeBase64Strict, encodeBase64 } from './strict-encoding';
import { TLOG_PROOF_EXTENSION, checkTlogProofInclusion, parseTlogProof } from './tlog-proof';
import { parseAnyVerifierKey } from './verifier-keys';
import { acceptedFor, readVerifierState, withAccepted, writeVerifierState, type AcceptedCheckpoint } from './verifier-state';

/*
 * Offline verification of an export bundle (layout: bundle-layout.ts). Entries
 * are checked in index order with a bounded read-ahead, so memory does not
 * grow with the bundle; the first failure stops verification and is reported
 * with its index.
 */

export interface VerifyBundleOptions {
  /**
   * Verifier key strings. Log keys are Ed25519 (0x01) keys named after the
   * origin; witness keys (0x04) are checked when they signed, not required.
   */
  keys: readonly string[];
  /** Remember accepted checkpoints here and demand consistency with them. */
  statePath?: string;
  /** Demand this origin. */
  origin?: string;
  /** Demand that the export starts at this index (0 for a full export). */
  start?: number;
  /** Entries read concurrently ahead of the one being checked; default 32. */
  readAhead?: number;
  /**
   * Witness cosigner verifier keys (type 0x04) whose cosignatures count
   * towards `minWitnesses`. A signature by one of them that does not verify
   * fails the checkpoint, as for any known key.
   */
  witnesses?: readonly string[];
  /**
   * Demand valid cosignatures on the checkpoint from at least this many
   * distinct `witnesses` (distinct public keys); default 0 (none needed).
   */
  minWitnesses?: number;
}

export interface ConsistencyCheck {
  /** The log key id whose remembered checkpoint was compared. */
  readonly keyId: string;
  readonly previousSize: number;
  /** same-size: equal roots; empty: nothing to prove; proof: consistency/ file; recomputed: from the exported entries. */
  readonly how: 'same-size' | 'empty' | 'proof' | 'recomputed';
}

export interface VerifyBundleResult {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  readonly start: number;
  /** Number of entries checked: size - start. */
  readonly entries: number;
  /** Log keys that signed the checkpoint, as `name+keyid`. */
  readonly logKeys: readonly string[];
  readonly cosigners: readonly { name: string; keyId: string; timestamp?: number }[];
  readonly consistency: readonly ConsistencyCheck[];
  readonly stateUpdated: boolean;
  /** With `minWitnesses`: the configured witnesses that cosigned, as `name+keyid`, and how many were required. */
  readonly witnessQuorum?: { readonly required: number; readonly witnesses: readonly string[] };
}

/** Why a bundle failed. `index` names the first bad entry when an entry is at fault. */
export class BundleVerifyError extends EvidenceError {
  readonly index: number | undefined;
  /** For rollback and fork: the checkpoint accepted before, and this bundle's. */
  readonly previousCheckpoint: string | undefined;
  readonly currentCheckpoint: string | undefined;

  constructor(
    reason: string,
    message: string,
    opts: { index?: number; previousCheckpoint?: string; currentCheckpoint?: string; cause?: unknown } = {},
  ) {
    super('EVIDENCE_BUNDLE_INVALID', reason, opts.index === undefined ? message : `entry ${opts.index}: ${message}`, { cause: opts.cause });
    this.name = 'BundleVerifyError';
    this.index = opts.index;
    this.previousCheckpoint = opts.previousCheckpoint;
    this.currentCheckpoint = opts.currentCheckpoint;
  }
}

const MAX_MANIFEST_BYTES = 4096;
const MAX_PROOF_BYTES = MAX_NOTE_BYTES + 8192;
const MAX_CONSISTENCY_BYTES = 16384;

/**
 * Checks a bundle offline: the checkpoint's log signature, then every entry
 * start .. size-1 (present, canonical JSON, `index` equal to its file index,
 * `origin` equal to the checkpoint's, and proven by its tlog-proof against
 * this very checkpoint), no stray files, and, with `statePath`, consistency
 * with the checkpoint accepted last time for each signing log key. On success
 * the state file advances to this checkpoint (never on failure).
 *
 * Throws BundleVerifyError for a bad bundle (with `index` when an entry is at
 * fault); EvidenceError EVIDENCE_KEY_INVALID for a malformed key and
 * EVIDENCE_STATE_INVALID for an unusable state file, so a CLI can tell usage
 * problems from evidence problems.
 */
export async function verifyBundle(dir: string, opts: VerifyBundleOptions): Promise<VerifyBundleResult> {
  if (opts.keys.length === 0) throw new BundleVerifyError('no-keys', 'no verifier keys given');
  const witnesses = witnessVerifiers(opts.witnesses ?? [], opts.minWitnesses ?? 0);
  const verifiers = [...opts.keys.map(parseAnyVerifierKey), ...witnesses.map((w) => w.verifier)];

  await checkTopLevel(dir);
  const note = await readRequired(path.join(dir, CHECKPOINT_FILE), MAX_NOTE_BYTES, 'checkpoint');
  let opened: OpenedCheckpoint;
  try {
    opened = openCheckpoint(note, verifiers, opts.origin === undefined ? {} : { origin: opts.origin });
  } catch (err) {
    throw new BundleVerifyError('checkpoint-invalid', `${CHECKPOINT_FILE}: ${(err as Error).message}`, { cause: err });
  }
  const cp = opened.checkpoint;
  const witnessQuorum = opts.minWitnesses ? checkWitnessQuorum(opened, witnesses, opts.minWitnesses) : undefined;
  const start = await readStart(dir, cp, opts.start);

  const state = opts.statePath === undefined ? undefined : await readVerifierState(opts.statePath);
  const logKeyIds = [...new Set(opened.logSignatures.map((s) => formatKeyId(s.keyId)))];
  const remembered = state ? logKeyIds.flatMap((keyId) => acceptedFor(state, cp.origin, keyId) ?? []) : [];
  const consistency: ConsistencyCheck[] = [];
  const recompute: AcceptedCheckpoint[] = [];
  for (const prev of remembered) {
    const how = await checkAgainstRemembered(dir, prev, cp, note, start);
    if (how === 'recompute') recompute.push(prev);
    else consistency.push({ keyId: prev.keyId, previousSize: prev.size, how });
  }

  const strayEntry = await scanIndexedDir(path.join(dir, ENTRIES_DIR), ENTRY_EXTENSION, start, cp.size);
  const strayProof = await scanIndexedDir(path.join(dir, PROOFS_DIR), TLOG_PROOF_EXTENSION, start, cp.size);
  const stray = minDefined(strayEntry, strayProof);
  if (stray !== undefined && stray < start) throw strayError(stray, start, cp.size);
  await scanConsistencyDir(dir, cp.size);

  // Old roots are recomputed from the entries only when no proof file was given.
  const hasher = recompute.length > 0 ? new StreamingTreeHasher() : undefined;
  const wanted = new Set(recompute.map((r) => r.size));
  const snapshots = new Map<number, Buffer>();
  for await (const slot of readAhead(dir, start, cp.size, opts.readAhead ?? 32)) {
    const leafHash = checkEntry(slot, cp, note);
    if (hasher) {
      hasher.append(leafHash);
      if (wanted.has(hasher.size)) snapshots.set(hasher.size, hasher.root());
    }
  }
  if (stray !== undefined) throw strayError(stray, start, cp.size);
  for (const prev of recompute) {
    if (!snapshots.get(prev.size)!.equals(decodeBase64Strict(prev.rootHash)!)) {
      throw forkError(prev, cp, note, `the exported entries give another root at size ${prev.size} than the checkpoint accepted before`);
    }
    consistency.push({ keyId: prev.keyId, previousSize: prev.size, how: 'recomputed' });
  }

  if (state && opts.statePath !== undefined) {
    const next = logKeyIds.reduce(
      (s, keyId) => withAccepted(s, { origin: cp.origin, keyId, size: cp.size, rootHash: encodeBase64(cp.rootHash), note: note.toString('utf8') }),
      state,
    );
    await writeVerifierState(opts.statePath, next);
  }

  return {
    origin: cp.origin,
    size: cp.size,
    rootHash: cp.rootHash,
    start,
    entries: cp.size - start,
    logKeys: opened.logSignatures.map((s) => `${s.name}+${formatKeyId(s.keyId)}`),
    cosigners: opened.cosignatures.map((s) => ({
      name: s.name,
      keyId: formatKeyId(s.keyId),
      ...(s.verifier.type === SIG_TYPE_COSIGNATURE_V1 ? { timestamp: cosignatureTimestamp(s.signature) } : {}),
    })),
    consistency,
    stateUpdated: state !== undefined,
    ...(witnessQuorum ? { witnessQuorum } : {}),
  };
}

interface WitnessVerifier {
  readonly verifier: NoteVerifier;
  /** The raw public key: one key under two names is one witness. */
  readonly publicKey: string;
}

function witnessVerifiers(keys: readonly string[], min: number): WitnessVerifier[] {
  if (!Number.isSafeInteger(min) || min < 0) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'bad-witness-quorum', 'the witness quorum must be a non-negative integer');
  }
  const out = keys.map((k) => {
    const decoded = decodeVerifierKey(k);
    if (decoded.type !== SIG_TYPE_COSIGNATURE_V1) {
      throw new EvidenceError('EVIDENCE_KEY_INVALID', 'not-a-witness-key', `witness key ${decoded.name}+${formatKeyId(decoded.keyId)} is not a cosigner key (type 0x04)`);
    }
    return { verifier: parseCosignatureVerifierKey(k), publicKey: decoded.publicKey.toString('hex') };
  });
  const distinct = new Set(out.map((w) => w.publicKey)).size;
  if (min > distinct) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'witness-quorum-unreachable', `a quorum of ${min} witnesses needs at least ${min} distinct witness keys; ${distinct} given`);
  }
  return out;
}

/** Counts distinct configured witnesses with a verified cosignature on the checkpoint. */
function checkWitnessQuorum(opened: OpenedCheckpoint, witnesses: readonly WitnessVerifier[], min: number): { required: number; witnesses: string[] } {
  const byKey = new Map(witnesses.map((w) => [w.verifier.verifierKey, w.publicKey]));
  const found = new Map<string, string>();
  for (const s of opened.cosignatures) {
    const pub = s.verifier.type === SIG_TYPE_COSIGNATURE_V1 ? byKey.get(s.verifier.verifierKey) : undefined;
    if (pub !== undefined && !found.has(pub)) found.set(pub, `${s.name}+${formatKeyId(s.keyId)}`);
  }
  const names = [...found.values()];
  if (names.length < min) {
    throw new BundleVerifyError(
      'witness-quorum',
      `${CHECKPOINT_FILE}: the checkpoint has valid cosignatures from ${names.length} of the ${new Set(byKey.values()).size} configured witnesses${names.length > 0 ? ` (${names.join(', ')})` : ''}; at least ${min} required`,
    );
  }
  return { required: min, witnesses: names };
}

async function checkTopLevel(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw new BundleVerifyError('unreadable', `cannot read bundle directory ${dir}`, { cause: err });
  }
  // An auditor may take any file in the bundle as verified, so nothing unverified may sit there.
  const unexpected = names.filter((n) => !BUNDLE_TOP_LEVEL.includes(n)).sort();
  if (unexpected.length > 0) throw new BundleVerifyError('unexpected-file', `unexpected file in bundle: ${unexpected[0]}`);
}

async function readStart(dir: string, cp: Checkpoint, demanded: number | undefined): Promise<number> {
  let manifest;
  try {
    manifest = parseManifest(await readRequired(path.join(dir, MANIFEST_FILE), MAX_MANIFEST_BYTES, 'manifest'));
  } catch (err) {
    if (err instanceof BundleVerifyError) throw err;
    throw new BundleVerifyError('bad-manifest', (err as Error).message, { cause: err });
  }
  if (manifest.origin !== cp.origin || manifest.size !== cp.size) {
    throw new BundleVerifyError('bad-manifest', `${MANIFEST_FILE} describes ${manifest.origin} at size ${manifest.size}, not the checkpoint's ${cp.origin} at size ${cp.size}`);
  }
  if (demanded !== undefined && manifest.start !== demanded) {
    throw new BundleVerifyError('wrong-start', `the export starts at entry ${manifest.start}, not ${demanded}`);
  }
  return manifest.start;
}

/** Compares with a remembered checkpoint; 'recompute' means: check the old root from the entries. */
async function checkAgainstRemembered(
  dir: string,
  prev: AcceptedCheckpoint,
  cp: Checkpoint,
  note: Buffer,
  start: number,
): Promise<ConsistencyCheck['how'] | 'recompute'> {
  const prevRoot = decodeBase64Strict(prev.rootHash)!;
  if (prev.size > cp.size) {
    throw new BundleVerifyError(
      'rollback',
      `rollback: the checkpoint has size ${cp.size}, smaller than size ${prev.size} accepted before for ${prev.origin} (key ${prev.keyId})${showBoth(prev, note)}`,
      { previousCheckpoint: prev.note, currentCheckpoint: note.toString('utf8') },
    );
  }
  if (prev.size === cp.size) {
    if (!prevRoot.equals(cp.rootHash)) throw forkError(prev, cp, note, `two different roots for size ${cp.size}`);
    return 'same-size';
  }
  if (prev.size === 0) return 'empty';

  const file = consistencyFile(dir, prev.size, cp.size);
  const bytes = await readLimited(file, MAX_CONSISTENCY_BYTES);
  if ('missing' in bytes) {
    if (start === 0) return 'recompute';
    throw new BundleVerifyError(
      'consistency-proof-missing',
      `a checkpoint of size ${prev.size} was accepted before for ${prev.origin} (key ${prev.keyId}), and this partial export has no ${path.relative(dir, file)} to prove consistency with it`,
    );
  }
  if ('error' in bytes) throw new BundleVerifyError('unreadable', `cannot read ${path.relative(dir, file)}`, { cause: bytes.error });
  let ok: boolean;
  try {
    if ('tooLarge' in bytes) throw new Error('file is too large');
    const parsed = parseConsistencyProof(bytes.bytes);
    if (parsed.size1 !== prev.size || parsed.size2 !== cp.size) throw new Error('sizes inside do not match the file name');
    ok = verifyConsistency(prev.size, cp.size, parsed.proof, prevRoot, cp.rootHash);
  } catch (err) {
    throw new BundleVerifyError('bad-consistency-proof', `${path.relative(dir, file)}: ${(err as Error).message}${showBoth(prev, note)}`, {
      cause: err,
      previousCheckpoint: prev.note,
      currentCheckpoint: note.toString('utf8'),
    });
  }
  if (!ok) throw forkError(prev, cp, note, `the consistency proof from size ${prev.size} to ${cp.size} does not hold`);
  return 'proof';
}

function forkError(prev: AcceptedCheckpoint, cp: Checkpoint, note: Buffer, why: string): BundleVerifyError {
  return new BundleVerifyError('fork', `fork: ${why} (log ${cp.origin}, key ${prev.keyId})${showBoth(prev, note)}`, {
    previousCheckpoint: prev.note,
    currentCheckpoint: note.toString('utf8'),
  });
}

function showBoth(prev: AcceptedCheckpoint, note: Buffer): string {
  return `\npreviously accepted checkpoint:\n${indent(prev.note)}\nthis bundle's checkpoint:\n${indent(note.toString('utf8'))}`;
}

const indent = (text: string): string => text.replace(/\n$/, '').split('\n').map((l) => `  ${l}`).join('\n');

type ReadResult = { bytes: Buffer } | { missing: true } | { tooLarge: number } | { error: unknown };

interface Slot {
  readonly index: number;
  readonly entry: ReadResult;
  readonly proof: ReadResult;
}

/** Reads entry and proof files in index order, up to `window` indexes ahead; never rejects. */
async function* readAhead(dir: string, start: number, end: number, window: number): AsyncGenerator<Slot> {
  const queue: Promise<Slot>[] = [];
  let next = start;
  const fill = (): void => {
    while (queue.length < Math.max(1, window) && next < end) {
      const index = next++;
      queue.push(
        Promise.all([readLimited(entryFile(dir, index), MAX_ENTRY_BYTES), readLimited(proofFile(dir, index), MAX_PROOF_BYTES)]).then(
          ([entry, proof]) => ({ index, entry, proof }),
        ),
      );
    }
  };
  fill();
  while (queue.length > 0) {
    const slot = await queue.shift()!;
    fill();
    yield slot;
  }
}

/** Checks one entry and its receipt; returns the leaf hash. */
function checkEntry(slot: Slot, cp: Checkpoint, note: Buffer): Buffer {
  const { index } = slot;
  const fail = (reason: string, why: string, cause?: unknown): BundleVerifyError =>
    new BundleVerifyError(reason, why, cause === undefined ? { index } : { index, cause });

  const entry = slot.entry;
  if ('missing' in entry) throw fail('entry-missing', `${ENTRIES_DIR}/${index}${ENTRY_EXTENSION} is missing`);
  if ('tooLarge' in entry) throw fail('entry-too-large', `entry is ${entry.tooLarge} bytes, over ${MAX_ENTRY_BYTES}`);
  if ('error' in entry) throw fail('entry-unreadable', 'entry file cannot be read', entry.error);
  let value: unknown;
  try {
    value = parseCanonical(entry.bytes);
  } catch (err) {
    throw fail('entry-not-canonical', (err as Error).message.replace(/^\$: /, ''), err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('entry-not-object', 'entry is not a JSON object');
  const fields = value as Record<string, unknown>;
  if (fields.index !== index) throw fail('entry-index-mismatch', `entry's index field is ${brief(fields.index)}`);
  if (fields.origin !== cp.origin) {
    throw fail('entry-origin-mismatch', `entry's origin field is ${brief(fields.origin)}, not the checkpoint's ${JSON.stringify(cp.origin)}`);
  }

  const proofBytes = slot.proof;
  if ('missing' in proofBytes) throw fail('proof-missing', `${PROOFS_DIR}/${index}${TLOG_PROOF_EXTENSION} is missing`);
  if ('tooLarge' in proofBytes) throw fail('proof-malformed', `proof file is ${proofBytes.tooLarge} bytes, too large`);
  if ('error' in proofBytes) throw fail('proof-unreadable', 'proof file cannot be read', proofBytes.error);
  let proof;
  try {
    proof = parseTlogProof(proofBytes.bytes);
  } catch (err) {
    throw fail('proof-malformed', (err as Error).message, err);
  }
  if (proof.index !== index) throw fail('proof-index-mismatch', `the proof is for index ${proof.index}`);
  // Every receipt must carry this bundle's checkpoint verbatim: then its one signature check covers all.
  if (!proof.checkpointNote.equals(note)) throw fail('proof-checkpoint-mismatch', `the proof carries another checkpoint than ${CHECKPOINT_FILE}`);
  try {
    return checkTlogProofInclusion(proof, entry.bytes, cp);
  } catch (err) {
    throw fail('proof-invalid', (err as Error).message, err);
  }
}

/**
 * Streams a directory of `<index><ext>` files. Throws on a name that is not
 * such a file; returns the smallest index outside [start, end), if any.
 */
async function scanIndexedDir(dir: string, ext: string, start: number, end: number): Promise<number | undefined> {
  let handle;
  try {
    handle = await fs.opendir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BundleVerifyError('unreadable', `cannot read ${path.basename(dir)}/`, { cause: err });
  }
  let stray: number | undefined;
  for await (const ent of handle) {
    const index = ent.isFile() ? indexFromFileName(ent.name, ext) : undefined;
    if (index === undefined) throw new BundleVerifyError('unexpected-file', `unexpected file in bundle: ${path.basename(dir)}/${ent.name}`);
    if (index < start || index >= end) stray = minDefined(stray, index);
  }
  return stray;
}

async function scanConsistencyDir(dir: string, size: number): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(path.join(dir, CONSISTENCY_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new BundleVerifyError('unreadable', `cannot read ${CONSISTENCY_DIR}/`, { cause: err });
  }
  for (const name of names.sort()) {
    const sizes = sizesFromConsistencyFileName(name);
    if (!sizes || sizes.size2 !== size || sizes.size1 === 0 || sizes.size1 >= size) {
      throw new BundleVerifyError('unexpected-file', `unexpected file in bundle: ${CONSISTENCY_DIR}/${name}`);
    }
  }
}

function strayError(index: number, start: number, size: number): BundleVerifyError {
  return new BundleVerifyError('entry-out-of-range', `the export covers entries ${start}..${size - 1} only, but has a file for this index`, { index });
}

async function readRequired(file: string, max: number, what: string): Promise<Buffer> {
  const r = await readLimited(file, max);
  if ('bytes' in r) return r.bytes;
  const name = path.basename(file);
  if ('missing' in r) throw new BundleVerifyError(`${what}-missing`, `${name} is missing`);
  if ('tooLarge' in r) throw new BundleVerifyError(`${what}-invalid`, `${name} is ${r.tooLarge} bytes, too large`);
  throw new BundleVerifyError('unreadable', `cannot read ${name}`, { cause: r.error });
}

/**
 * Reads at most `max` bytes of a file. Reads are bounded, not trusted to stat:
 * a bundle is untrusted input and could hold a growing file or a device.
 */
async function readLimited(file: string, max: number): Promise<ReadResult> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? { missing: true } : { error: err };
  }
  try {
    const { size } = await handle.stat();
    if (size > max) return { tooLarge: size };
    // One spare byte tells a file that is longer than stat said (growing, or a device).
    const buf = Buffer.alloc(size + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) return { bytes: buf.subarray(0, got) };
      got += bytesRead;
    }
    return { error: new Error('file is longer than its size, or changed while being read') };
  } catch (err) {
    return { error: err };
  } finally {
    await handle.close();
  }
}

/** A field of an untrusted entry, shortened for an error message. */
function brief(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return 'missing';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
