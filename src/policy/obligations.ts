/** What a permit attaches to a grant: approvals from named groups, and limits on the lease. */
export interface Obligations {
  readonly approvals: readonly string[];
  readonly maxTtlSeconds?: number;
  readonly maxUses?: number;
}

export const NO_OBLIGATIONS: Obligations = Object.freeze({ approvals: Object.freeze([]) as readonly string[] });

/** The only obligation kind so far; adding one means a new prefix here and handling in the broker. */
const APPROVAL_PREFIX = 'approval:';
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Parses `@obligation("approval:finance, approval:legal")`; returns approvals or problems. */
export function parseObligationAnnotation(value: string): { approvals: string[]; problems: string[] } {
  const approvals: string[] = [];
  const problems: string[] = [];
  for (const raw of value.split(',')) {
    const item = raw.trim();
    if (item === '') {
      problems.push('@obligation has an empty item');
      continue;
    }
    if (!item.startsWith(APPROVAL_PREFIX)) {
      problems.push(`@obligation "${item}" has an unknown kind (only approval:<group> is supported)`);
      continue;
    }
    const group = item.slice(APPROVAL_PREFIX.length);
    if (!GROUP_NAME.test(group)) {
      problems.push(`@obligation "${item}" names an invalid approval group`);
    } else if (approvals.includes(group)) {
      problems.push(`@obligation lists approval:${group} twice`);
    } else {
      approvals.push(group);
    }
  }
  return { approvals, problems };
}

export function obligationCount(o: Obligations): number {
  return o.approvals.length + (o.maxTtlSeconds === undefined ? 0 : 1) + (o.maxUses === undefined ? 0 : 1);
}

/** Short labels for explanations, e.g. ["approval:finance", "max_ttl:300s", "max_uses:1"]. */
export function obligationLabels(o: Obligations): string[] {
  const labels = o.approvals.map((g) => `${APPROVAL_PREFIX}${g}`);
  if (o.maxTtlSeconds !== undefined) labels.push(`max_ttl:${o.maxTtlSeconds}s`);
  if (o.maxUses !== undefined) labels.push(`max_uses:${o.maxUses}`);
  return labels;
}

/**
 * Picks the permit whose obligations the request must meet (DESIGN, "How
 * obligations combine"): one with none grants outright; otherwise the fewest.
 * Ties go to fewer approvals (a human in the loop costs more than a short
 * lease), then to the smaller id so the choice is deterministic.
 */
export function choosePermit<P extends { readonly id: string; readonly obligations: Obligations }>(permits: readonly P[]): P | undefined {
  let best: P | undefined;
  for (const p of permits) {
    if (best === undefined || comparePermits(p, best) < 0) best = p;
  }
  return best;
}

function comparePermits(a: { id: string; obligations: Obligations }, b: { id: string; obligations: Obligations }): number {
  return (
    obligationCount(a.obligations) - obligationCount(b.obligations) ||
    a.obligations.approvals.length - b.obligations.approvals.length ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
