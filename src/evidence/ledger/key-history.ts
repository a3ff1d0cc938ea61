/**
 * Evidence signing-key rotation on disk. Beside the signing key file
 * `<signing_key>` (the current key, one line, 0600, as before):
 *
 *   <signing_key>.history  every log key the log has had, oldest first; the
 *                          last one is the current key (JSON, public keys only, 0600)
 *   <signing_key>.prev     the previous signer key (0600): it co-signs
 *                          checkpoints during the overlap, then is deleted
 *   <signing_key>.next     transient: the new key while a rotation is written
 *
 * No history file means the log never rotated: the key file is its only key.
 *
 * A rotation writes, in this order: `.next` (the new key), `.prev` (a copy of
 * the current key), the history (the commit point: from here on the new key
 * is the log's key), then renames `.next` over the key file. Opening finishes
 * a rotation interrupted after its history was written and discards one that
 * never reached it, so a crash anywhere leaves one consistent key history.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../../lib/durable-files';
import { errCode } from '../../lib/errno';
import { BrokerError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { SIG_TYPE_ED25519, decodeVerifierKey, formatKeyId, generateNoteKey, parseSignerKey, type NoteSigner } from '../note-key';
import { ensureSigningKey, loadSigningKey, type SigningKeyOptions } from './signing-key';
import { keyError, keyFileExists } from '../../lib/private-file';

// A history of 1000 rotations is ~200 KiB; anything much larger is not one.
const MAX_HISTORY_BYTES = 1024 * 1024;

/** One log key in the history. */
export interface KeyRecord {
  readonly verifierKey: string;
  /** When it became the log key (ms); absent for the log's first key. */
  readonly since?: number;
  /** When a rotation replaced it (ms); absent for the current key. */
  readonly retiredAt?: number;
  /** Until when it co-signs checkpoints after its retirement (ms). */
  readonly overlapUntil?: number;
}

export interface KeyHistory {
  readonly origin: string;
  /** Oldest first; the last is the current key. */
  readonly keys: readonly KeyRecord[];
}

/** The key retired by the latest rotation. */
export interface PreviousLogKey {
  readonly verifierKey: string;
  /** The end of the overlap (ms): until then it co-signs every checkpoint. */
  readonly until: number;
  /** Its signer, while `<signing_key>.prev` holds it. */
  readonly signer?: NoteSigner;
}

/** The log keys the daemon starts with. */
export interface EvidenceKeys {
  readonly signer: NoteSigner;
  readonly previous?: PreviousLogKey;
  /** Every retired log key (verifier keys), oldest first; the previous one included. */
  readonly retired: readonly string[];
  /** The key file was created just now. */
  readonly created: boolean;
}

/** What a rotation writes durably; implemented by SigningKeyFiles. */
export interface EvidenceKeyStore {
  /**
   * Generates the next log key and makes it the current one on disk, keeping
   * `current` as the previous key for the overlap. Returns the new signer and
   * the end of the overlap (ms).
   */
  rotate(current: NoteSigner, now: number): Promise<{ next: NoteSigner; until: number }>;
  /** The overlap is over: deletes the previous signer key. */
  retirePrevious(): Promise<void>;
}

export const keyFilesOf = (path: string): { key: string; prev: string; next: string; history: string } => ({
  key: path,
  prev: `${path}.prev`,
  next: `${path}.next`,
  history: `${path}.history`,
});


/** `name+keyid` of a verifier key, for messages. */
export function keyLabel(verifierKey: string): string {
  const d = decodeVerifierKey(verifierKey);
  return `${d.name}+${formatKeyId(d.keyId)}`;
}

// ------------------------------------------------------------------ history

/** Reads and checks `<path>.history`; undefined when there is none (the log never rotated). */
export async function readKeyHistory(path: string, origin: string): Promise<KeyHistory | undefined> {
  const file = keyFilesOf(path).history;
  let raw: Buffer;
  try {
    const st = await fs.stat(file);
    if (st.size > MAX_HISTORY_BYTES) throw keyError(`evidence key history ${file} is ${st.size} bytes, too large`);
    raw = await fs.readFile(file);
  } catch (err) {
    if (err instanceof BrokerError) throw err;
    if (errCode(err) === 'ENOENT') return undefined;
    throw keyError(`evidence key history ${file} cannot be read (${errCode(err)})`, err);
  }
  return parseKeyHistory(raw.toString('utf8'), file, origin);
}

export function parseKeyHistory(text: string, file: string, origin: string): KeyHistory {
  const bad = (why: string): BrokerError => keyError(`evidence key history ${file}: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  const o = doc as { origin?: unknown; keys?: unknown };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('expected a JSON object');
  if (o.origin !== origin) throw bad(`it is for origin ${JSON.stringify(o.origin)}, but evidence.origin is ${JSON.stringify(origin)}`);
  if (!Array.isArray(o.keys) || o.keys.length === 0) throw bad('"keys" must be a non-empty list');
  const seen = new Set<string>();
  const keys = o.keys.map((k: unknown, i: number): KeyRecord => {
    const last = i === (o.keys as unknown[]).length - 1;
    const r = k as Record<string, unknown>;
    if (typeof k !== 'object' || k === null || Array.isArray(k)) throw bad(`keys[${i}] is not an object`);
    for (const f of Object.keys(r)) if (!['verifier_key', 'since', 'retired_at', 'overlap_until'].includes(f)) throw bad(`keys[${i}] has an unknown field "${f}"`);
    const vkey = r['verifier_key'];
    if (typeof vkey !== 'string') throw bad(`keys[${i}].verifier_key is missing`);
    let d;
    try {
      d = decodeVerifierKey(vkey);
    } catch (err) {
      throw bad(`keys[${i}].verifier_key: ${(err as Error).message}`);
    }
    if (d.type !== SIG_TYPE_ED25519 || d.name !== origin) throw bad(`keys[${i}] is not an Ed25519 log key named after the origin`);
    if (seen.has(vkey)) throw bad(`keys[${i}] repeats an earlier key`);
    seen.add(vkey);
    const time = (field: string, required: boolean): number | undefined => {
      const v = r[field];
      if (v === undefined) {
        if (required) throw bad(`keys[${i}].${field} is missing`);
        return undefined;
      }
      const ms = typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/.test(v) ? Date.parse(v) : NaN;
      if (!Number.isFinite(ms)) throw bad(`keys[${i}].${field} is not an RFC 3339 UTC time`);
      return ms;
    };
    const since = time('since', false);
    const retiredAt = time('retired_at', !last);
    const overlapUntil = time('overlap_until', !last);
    if (last && (retiredAt !== undefined || overlapUntil !== undefined)) throw bad('the last key is the current one and cannot be retired');
    return { verifierKey: vkey, ...(since !== undefined ? { since } : {}), ...(retiredAt !== undefined ? { retiredAt } : {}), ...(overlapUntil !== undefined ? { overlapUntil } : {}) };
  });
  return { origin, keys };
}

export function formatKeyHistory(h: KeyHistory): Buffer {
  const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
  const doc = {
    origin: h.origin,
    keys: h.keys.map((k) => ({ verifier_key: k.verifierKey, since: iso(k.since), retired_at: iso(k.retiredAt), overlap_until: iso(k.overlapUntil) })),
  };
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}

// ------------------------------------------------------------- the daemon

/**
 * What `serve` does at start: finishes or discards an interrupted rotation,
 * creates the key file when the log has no key history yet, then checks the
 * key file against the history (FAILED_PRECONDITION when it holds a retired
 * key, or one the history does not list) and loads the previous key for the
 * overlap. A missing key file is never recreated once a history exists: a new
 * key would not match the log.
 */
export async function openEvidenceKeys(path: string, origin: string, opts: SigningKeyOptions & { log?: Logger } = {}): Promise<EvidenceKeys> {
  const f = keyFilesOf(path);
  const history = await readKeyHistory(path, origin);
  const current = history?.keys[history.keys.length - 1];
  if (await keyFileExists(f.next)) {
    const next = current ? await loadSigningKey(f.next, origin, opts) : undefined;
    const held = current && (await keyFileExists(f.key)) ? await loadSigningKey(f.key, origin, opts) : undefined;
    if (current && next?.verifierKey === current.verifierKey && held?.verifierKey !== current.verifierKey) {
      // The history names the new key: the rotation was decided; finish it.
      await fs.rename(f.next, f.key);
      await fsyncDir(dirname(path));
      opts.log?.warn({ key_id: keyLabel(current.verifierKey) }, 'evidence: finished a signing-key rotation that was interrupted');
    } else {
      // The rotation never reached the history: it did not happen.
      await removeDurably(f.next);
    }
  }
  if (current && !(await keyFileExists(f.key))) {
    throw keyError(
      `evidence signing key ${path} is missing, but the key history ${f.history} names ${keyLabel(current.verifierKey)} as the log's current key; restore that key file (a new key would not match the log)`,
    );
  }
  const { signer, created } = await ensureSigningKey(path, origin, opts);
  if (!history || !current) {
    await dropStalePrev(f.prev, signer, origin, opts);
    return { signer, retired: [], created };
  }
  if (signer.verifierKey !== current.verifierKey) {
    const retired = history.keys.some((k) => k.verifierKey === signer.verifierKey);
    throw keyError(
      retired
        ? `evidence signing key ${path} holds the retired log key ${keyLabel(signer.verifierKey)}; the key history ${f.history} says the current key is ${keyLabel(current.verifierKey)}: restore that key file`
        : `evidence signing key ${path} holds key ${keyLabel(signer.verifierKey)}, which the key history ${f.history} does not list (the current key is ${keyLabel(current.verifierKey)}): restore that key file`,
    );
  }
  const prevRecord = history.keys.length >= 2 ? history.keys[history.keys.length - 2]! : undefined;
  let prevSigner: NoteSigner | undefined;
  if (await keyFileExists(f.prev)) {
    const p = await loadSigningKey(f.prev, origin, opts);
    if (p.verifierKey === signer.verifierKey) await removeDurably(f.prev);
    else if (prevRecord && p.verifierKey === prevRecord.verifierKey) prevSigner = p;
    else throw keyError(`${f.prev} holds key ${keyLabel(p.verifierKey)}, which is not the previous log key in the key history ${f.history}`);
  }
  return {
    signer,
    ...(prevRecord ? { previous: { verifierKey: prevRecord.verifierKey, until: prevRecord.overlapUntil!, ...(prevSigner ? { signer: prevSigner } : {}) } } : {}),
    retired: history.keys.slice(0, -1).map((k) => k.verifierKey),
    created,
  };
}

/** `.prev` without a history: left by a first rotation that never reached its history (then it equals the key). */
async function dropStalePrev(prev: string, signer: NoteSigner, origin: string, opts: SigningKeyOptions & { log?: Logger }): Promise<void> {
  if (!(await keyFileExists(prev))) return;
  const p = await loadSigningKey(prev, origin, opts);
  if (p.verifierKey === signer.verifierKey) await removeDurably(prev);
  else opts.log?.warn({ file: prev }, 'evidence: ignoring a previous signing key that no key history lists');
}

/** The keys a reader (`evidence export`, `evidence key`) checks the log with; it writes nothing. */
export interface LogKeys {
  /** The current log key. */
  readonly current: string;
  /** The key retired by the latest rotation. */
  readonly previous?: string;
  /** Every retired key, oldest first. */
  readonly retired: readonly string[];
  /** The key file's signer, when it holds the current key (a faster integrity check). */
  readonly signer?: NoteSigner;
}

/**
 * The log keys as the history (or, without one, the key file) states them.
 * Without a history the key file must exist; with one the key file is only a
 * shortcut, so a reader works during an interrupted rotation too.
 */
export async function readLogKeys(path: string, origin: string, opts: SigningKeyOptions = {}): Promise<LogKeys> {
  const history = await readKeyHistory(path, origin);
  if (!history) {
    const signer = await loadSigningKey(path, origin, opts);
    return { current: signer.verifierKey, retired: [], signer };
  }
  const current = history.keys[history.keys.length - 1]!.verifierKey;
  const signer = (await keyFileExists(path)) ? await loadSigningKey(path, origin, opts) : undefined;
  const retired = history.keys.slice(0, -1).map((k) => k.verifierKey);
  return { current, ...(retired.length ? { previous: retired[retired.length - 1]! } : {}), retired, ...(signer?.verifierKey === current ? { signer } : {}) };
}

// --------------------------------------------------------------- rotation

/** The key files of one log; the ledger rotates through it. */
export class SigningKeyFiles implements EvidenceKeyStore {
  constructor(
    private readonly path: string,
    private readonly origin: string,
    /** How long the previous key co-signs after a rotation. */
    private readonly overlapMs: number,
    private readonly opts: SigningKeyOptions = {},
  ) {}

  async rotate(current: NoteSigner, now: number): Promise<{ next: NoteSigner; until: number }> {
    const f = keyFilesOf(this.path);
    const history = (await readKeyHistory(this.path, this.origin)) ?? { origin: this.origin, keys: [{ verifierKey: current.verifierKey }] };
    const last = history.keys[history.keys.length - 1]!;
    if (last.verifierKey !== current.verifierKey) {
      throw keyError(`the key history ${f.history} does not end with the key the log signs with (${keyLabel(current.verifierKey)}); restart the daemon`);
    }
    // The key file must hold the key in use: it becomes the previous key.
    const held = await loadSigningKey(this.path, this.origin, this.opts);
    if (held.verifierKey !== current.verifierKey) {
      throw keyError(`evidence signing key ${this.path} no longer holds the key the log signs with (${keyLabel(current.verifierKey)}); restart the daemon`);
    }
    const currentBytes = await fs.readFile(this.path);
    const generated = generateNoteKey(this.origin);
    const nextBytes = Buffer.from(`${generated.signerKey.revealString()}\n`, 'utf8');
    const next = parseSignerKey(generated.signerKey);
    generated.signerKey.wipe();
    const until = now + this.overlapMs;
    let committed = false;
    try {
      await writeFileAtomic(f.next, nextBytes, { mode: 0o600 });
      await writeFileAtomic(f.prev, currentBytes, { mode: 0o600 });
      const keys: KeyRecord[] = [...history.keys.slice(0, -1), { ...last, retiredAt: now, overlapUntil: until }, { verifierKey: next.verifierKey, since: now }];
      await writeFileAtomic(f.history, formatKeyHistory({ origin: this.origin, keys }), { mode: 0o600 });
      committed = true;
      await fs.rename(f.next, this.path);
      await fsyncDir(dirname(this.path));
    } catch (err) {
      if (!committed) await fs.rm(f.next, { force: true }).catch(() => undefined);
      throw new BrokerError(
        'unavailable',
        committed
          ? `the evidence key rotation was recorded in ${f.history} but ${this.path} could not be replaced (${errCode(err)}); restart the daemon to finish it`
          : `the evidence signing key could not be rotated (${errCode(err)})`,
        { cause: err },
      );
    } finally {
      nextBytes.fill(0);
      currentBytes.fill(0);
    }
    return { next, until };
  }

  async retirePrevious(): Promise<void> {
    await removeDurably(keyFilesOf(this.path).prev);
  }
}

async function removeDurably(file: string): Promise<void> {
  try {
    await fs.rm(file);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return;
    throw keyError(`${file} cannot be removed (${errCode(err)})`, err);
  }
  await fsyncDir(dirname(file));
}

