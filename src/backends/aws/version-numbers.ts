/**
 * Integer versions over AWS Secrets Manager, which has none (see README.md,
 * "Version numbers"). A version the broker writes gets a VersionId (its
 * ClientRequestToken) that carries its number: `sb-v<N>-<32 hex>`. VersionIds
 * never change, so the number is stable and needs no staging label (a secret
 * may carry at most 20 labels across all its versions). A version written by
 * anyone else is numbered one above the version before it in creation order.
 */
import { randomBytes } from 'node:crypto';

const TOKEN = /^sb-v([1-9][0-9]{0,14})-[0-9a-f]{32}$/;

/** A ClientRequestToken (32 to 64 characters) that becomes the VersionId of version `n`. */
export function versionToken(n: number): string {
  return `sb-v${n}-${randomBytes(16).toString('hex')}`;
}

/** The number a broker-written VersionId carries, or undefined for a version written elsewhere. */
export function numberInVersionId(versionId: string | undefined): number | undefined {
  const m = versionId ? TOKEN.exec(versionId) : null;
  return m ? Number(m[1]) : undefined;
}

/** One row of ListSecretVersionIds, as far as numbering needs it. */
export interface ListedVersion {
  versionId: string;
  stages: readonly string[];
  /** ms since the epoch; undefined when AWS gave none. */
  createdAt: number | undefined;
}

export interface NumberedVersion extends ListedVersion {
  version: number;
}

/**
 * Among versions created in the same instant (moto's clock has one-second
 * steps, and it reports the listing time for every version), AWS's own labels
 * give the order: a put moves AWSCURRENT to the new version and AWSPREVIOUS to
 * the one before it, and AWSPENDING is staged after the current one.
 */
function stageRank(stages: readonly string[]): number {
  if (stages.includes('AWSPENDING')) return 3;
  if (stages.includes('AWSCURRENT')) return 2;
  if (stages.includes('AWSPREVIOUS')) return 1;
  return 0;
}

/**
 * Numbers every listed version: creation order (then stage order, then the
 * order AWS listed them in); a broker-written version keeps the number in its
 * VersionId, any other is one above the version before it (1 for the first).
 */
export function numberVersions(listed: readonly ListedVersion[]): NumberedVersion[] {
  const ordered = listed
    .map((v, i) => ({ v, i }))
    .sort((a, b) => (a.v.createdAt ?? 0) - (b.v.createdAt ?? 0) || stageRank(a.v.stages) - stageRank(b.v.stages) || a.i - b.i);
  const out: NumberedVersion[] = [];
  let previous = 0;
  for (const { v } of ordered) {
    const version = numberInVersionId(v.versionId) ?? previous + 1;
    out.push({ ...v, version });
    previous = version;
  }
  return out;
}

/** The version holding `n`; when two do (two writers raced), the later one. */
export function findNumber(numbered: readonly NumberedVersion[], n: number): NumberedVersion | undefined {
  for (let i = numbered.length - 1; i >= 0; i--) if (numbered[i]!.version === n) return numbered[i];
  return undefined;
}

/** The number the next put gets: one above the highest in use. */
export function nextNumber(numbered: readonly NumberedVersion[]): number {
  return numbered.reduce((max, v) => Math.max(max, v.version), 0) + 1;
}
