/**
 * The on-disk format of the local sealed store: one UTF-8 JSON document.
 *
 * ```json
 * {
 *   "format": "secret-broker/local-sealed",
 *   "format_version": 1,
 *   "aead": "xchacha20poly1305-ietf",
 *   "store_id": "<base64url, 16 random bytes, no padding>",
 *   "key_check": "<base64, 32 bytes>",
 *   "secrets": {
 *     "<name>": [
 *       { "version": 1, "created_at": "<RFC 3339>", "nonce": "<base64, 24 bytes>",
 *         "ciphertext": "<base64: sealed value + 16-byte tag>" }
 *     ]
 *   }
 * }
 * ```
 *
 * Every version of a name is kept, in order, numbered 1..n. Parsing is strict:
 * anything unexpected means the file is corrupt and is reported, never
 * repaired or reset. `created_at` is advisory metadata and not authenticated.
 */
import { BrokerError } from '../../lib/errors';
import { NONCE_BYTES, TAG_BYTES } from './sealing';
import { SECRET_NAME_PATTERN } from './secret-name';

export const FORMAT = 'secret-broker/local-sealed';
export const FORMAT_VERSION = 1;
export const AEAD = 'xchacha20poly1305-ietf';
const STORE_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export interface SealedEntry {
  version: number;
  /** ms since the epoch */
  createdAt: number;
  nonce: Buffer;
  ciphertext: Buffer;
}

export interface SealedStore {
  storeId: string;
  keyCheck: Buffer;
  /** name → versions, index i holding version i + 1 */
  secrets: Map<string, SealedEntry[]>;
}

class Corrupt extends Error {}

/** Parses the file's bytes; throws `internal` naming `path` when they are not a valid sealed store. */
export function parseSealedStore(bytes: Buffer, path: string): SealedStore {
  try {
    return parse(bytes);
  } catch (err) {
    if (err instanceof Corrupt) {
      // Our own detail only: JSON.parse's message quotes file content.
      throw new BrokerError(
        'internal',
        `local secret store: sealed file ${path} is corrupt (${err.message}); it was left untouched, restore it from a backup`,
      );
    }
    throw err;
  }
}

function parse(bytes: Buffer): SealedStore {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new Corrupt('not valid UTF-8 JSON');
  }
  const root = object(doc, 'the document');
  onlyKeys(root, ['format', 'format_version', 'aead', 'store_id', 'key_check', 'secrets'], 'the document');
  if (root.format !== FORMAT) throw new Corrupt(`"format" is not "${FORMAT}"`);
  if (root.format_version !== FORMAT_VERSION) throw new Corrupt(`"format_version" is not ${FORMAT_VERSION}`);
  if (root.aead !== AEAD) throw new Corrupt(`"aead" is not "${AEAD}"`);
  if (typeof root.store_id !== 'string' || !STORE_ID_PATTERN.test(root.store_id)) {
    throw new Corrupt('"store_id" is not 16 bytes of base64url');
  }
  const keyCheck = base64(root.key_check, '"key_check"');
  if (keyCheck.length !== 32) throw new Corrupt('"key_check" is not 32 bytes');

  const secrets = new Map<string, SealedEntry[]>();
  for (const [name, rawVersions] of Object.entries(object(root.secrets, '"secrets"'))) {
    // An invalid name is not echoed; it may be anything.
    if (!SECRET_NAME_PATTERN.test(name)) throw new Corrupt('"secrets" has an invalid secret name');
    const where = `secrets["${name}"]`;
    if (!Array.isArray(rawVersions) || rawVersions.length === 0) throw new Corrupt(`${where} is not a non-empty array`);
    secrets.set(
      name,
      rawVersions.map((raw: unknown, i) => entry(raw, i + 1, `${where}[${i}]`)),
    );
  }
  return { storeId: root.store_id, keyCheck, secrets };
}

function entry(raw: unknown, expectedVersion: number, where: string): SealedEntry {
  const e = object(raw, where);
  onlyKeys(e, ['version', 'created_at', 'nonce', 'ciphertext'], where);
  if (e.version !== expectedVersion) throw new Corrupt(`${where}.version is not ${expectedVersion}`);
  const createdAt = typeof e.created_at === 'string' ? Date.parse(e.created_at) : NaN;
  if (!Number.isFinite(createdAt)) throw new Corrupt(`${where}.created_at is not an RFC 3339 time`);
  const nonce = base64(e.nonce, `${where}.nonce`);
  if (nonce.length !== NONCE_BYTES) throw new Corrupt(`${where}.nonce is not ${NONCE_BYTES} bytes`);
  const ciphertext = base64(e.ciphertext, `${where}.ciphertext`);
  if (ciphertext.length <= TAG_BYTES) throw new Corrupt(`${where}.ciphertext is too short`);
  return { version: expectedVersion, createdAt, nonce, ciphertext };
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Corrupt(`${where} is not an object`);
  return v as Record<string, unknown>;
}

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of allowed) {
    if (!Object.hasOwn(o, k)) throw new Corrupt(`${where} lacks "${k}"`);
  }
  if (Object.keys(o).length !== allowed.length) throw new Corrupt(`${where} has unknown fields`);
}

/** Strict base64: only canonical encodings, so a flipped character is always noticed. */
function base64(v: unknown, where: string): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'base64');
    if (b.toString('base64') === v) return b;
  }
  throw new Corrupt(`${where} is not canonical base64`);
}

/** Serializes deterministically: names sorted, versions in order, two-space indentation. */
export function serializeSealedStore(store: SealedStore): Buffer {
  const secrets: Record<string, unknown> = {};
  for (const name of [...store.secrets.keys()].sort()) {
    secrets[name] = store.secrets.get(name)!.map((e) => ({
      version: e.version,
      created_at: new Date(e.createdAt).toISOString(),
      nonce: e.nonce.toString('base64'),
      ciphertext: e.ciphertext.toString('base64'),
    }));
  }
  const doc = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    aead: AEAD,
    store_id: store.storeId,
    key_check: store.keyCheck.toString('base64'),
    secrets,
  };
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}
