import * as path from 'node:path';
import { canonicalize, parseCanonical } from './canonical-json';
import { EvidenceError } from './evidence-error';
import { HASH_SIZE } from './merkle-hash';
import { decodeBase64Strict, encodeBase64, parseDecimalStrict } from './strict-encoding';
import { TLOG_PROOF_EXTENSION } from './tlog-proof';

/*
 * The export bundle, a directory:
 *
 *   checkpoint.note               the signed checkpoint the export is pinned to
 *   bundle.json                   manifest: {"format","origin","size","start"} (canonical JSON)
 *   entries/<index>.json          exact leaf bytes of entries start .. size-1
 *   proofs/<index>.tlog-proof     a c2sp.org/tlog-proof receipt per entry, against checkpoint.note
 *   consistency/<m>-<n>.proof     optional: consistency proofs from older sizes m to n = size
 *
 * Indexes in file names are plain decimals with no leading zeroes. The
 * manifest is not signed; it only states where the export starts so that a
 * missing first entry is noticed. The end is always the signed checkpoint's
 * size, so a missing last entry is caught by the signature.
 *
 * A consistency proof file is:
 *   secret-broker/consistency-proof@v1
 *   size1 <m>
 *   size2 <n>
 *   <base64 hash>, one per line (RFC 9162 order)
 */

export const BUNDLE_FORMAT = 'secret-broker/evidence-bundle@v1';
export const CONSISTENCY_PROOF_HEADER = 'secret-broker/consistency-proof@v1';
export const CHECKPOINT_FILE = 'checkpoint.note';
export const MANIFEST_FILE = 'bundle.json';
export const ENTRIES_DIR = 'entries';
export const PROOFS_DIR = 'proofs';
export const CONSISTENCY_DIR = 'consistency';
export const ENTRY_EXTENSION = '.json';
export const CONSISTENCY_EXTENSION = '.proof';
export const BUNDLE_TOP_LEVEL: readonly string[] = [CHECKPOINT_FILE, MANIFEST_FILE, ENTRIES_DIR, PROOFS_DIR, CONSISTENCY_DIR];

export interface BundleManifest {
  readonly format: typeof BUNDLE_FORMAT;
  readonly origin: string;
  /** The checkpoint's tree size: the export covers entries start .. size-1. */
  readonly size: number;
  readonly start: number;
}

export const entryFile = (dir: string, index: number): string => path.join(dir, ENTRIES_DIR, `${index}${ENTRY_EXTENSION}`);
export const proofFile = (dir: string, index: number): string => path.join(dir, PROOFS_DIR, `${index}${TLOG_PROOF_EXTENSION}`);
export const consistencyFile = (dir: string, size1: number, size2: number): string =>
  path.join(dir, CONSISTENCY_DIR, `${size1}-${size2}${CONSISTENCY_EXTENSION}`);

/** The index in a file name `<decimal><ext>`, or undefined if the name is anything else. */
export function indexFromFileName(name: string, ext: string): number | undefined {
  return name.endsWith(ext) ? parseDecimalStrict(name.slice(0, -ext.length)) : undefined;
}

/** The sizes in a file name `<m>-<n>.proof`, or undefined. */
export function sizesFromConsistencyFileName(name: string): { size1: number; size2: number } | undefined {
  if (!name.endsWith(CONSISTENCY_EXTENSION)) return undefined;
  const parts = name.slice(0, -CONSISTENCY_EXTENSION.length).split('-');
  if (parts.length !== 2) return undefined;
  const size1 = parseDecimalStrict(parts[0]!);
  const size2 = parseDecimalStrict(parts[1]!);
  return size1 === undefined || size2 === undefined ? undefined : { size1, size2 };
}

export function formatManifest(m: Omit<BundleManifest, 'format'>): Buffer {
  return canonicalize({ format: BUNDLE_FORMAT, origin: m.origin, size: m.size, start: m.start });
}

export function parseManifest(bytes: Uint8Array): BundleManifest {
  const bad = (why: string): EvidenceError => new EvidenceError('EVIDENCE_BUNDLE_INVALID', 'bad-manifest', `${MANIFEST_FILE}: ${why}`);
  let v: unknown;
  try {
    v = parseCanonical(bytes);
  } catch {
    throw bad('not canonical JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not an object');
  const m = v as Record<string, unknown>;
  if (Object.keys(m).sort().join(',') !== 'format,origin,size,start') throw bad('want exactly format, origin, size and start');
  if (m.format !== BUNDLE_FORMAT) throw bad(`format is not ${BUNDLE_FORMAT}`);
  if (typeof m.origin !== 'string') throw bad('origin is not a string');
  const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!isCount(m.size) || !isCount(m.start) || m.start > m.size) throw bad('want integers 0 <= start <= size');
  return { format: BUNDLE_FORMAT, origin: m.origin, size: m.size, start: m.start };
}

export function formatConsistencyProof(size1: number, size2: number, proof: readonly Buffer[]): Buffer {
  const lines = [CONSISTENCY_PROOF_HEADER, `size1 ${size1}`, `size2 ${size2}`, ...proof.map(encodeBase64)];
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

export function parseConsistencyProof(bytes: Uint8Array): { size1: number; size2: number; proof: Buffer[] } {
  const bad = (why: string): EvidenceError => new EvidenceError('EVIDENCE_BUNDLE_INVALID', 'bad-consistency-proof', `consistency proof: ${why}`);
  const text = Buffer.from(bytes).toString('latin1');
  if (!text.endsWith('\n')) throw bad('does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== CONSISTENCY_PROOF_HEADER) throw bad(`first line is not ${CONSISTENCY_PROOF_HEADER}`);
  const size1 = lines[1]?.startsWith('size1 ') ? parseDecimalStrict(lines[1].slice(6)) : undefined;
  const size2 = lines[2]?.startsWith('size2 ') ? parseDecimalStrict(lines[2].slice(6)) : undefined;
  if (size1 === undefined || size2 === undefined) throw bad('want "size1 M" and "size2 N" lines');
  const proof = lines.slice(3).map((l, i) => {
    const h = decodeBase64Strict(l);
    if (!h || h.length !== HASH_SIZE) throw bad(`hash line ${i + 1} is not canonical base64 of ${HASH_SIZE} bytes`);
    return h;
  });
  if (proof.length > 128) throw bad('too many hashes');
  return { size1, size2, proof };
}
