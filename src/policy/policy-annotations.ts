import { Obligations, parseObligationAnnotation } from './obligations';

/**
 * The closed set of annotations. An unknown name is a load error: a typo such
 * as `@obligations` would otherwise silently drop an approval requirement.
 */
export const KNOWN_ANNOTATIONS = ['id', 'reason', 'requires', 'obligation', 'max_ttl', 'max_uses'] as const;

/** Ids appear in evidence, explanations and CLI output, so keep them plain. */
const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const POSITIVE_INTEGER = /^[1-9][0-9]*$/;

export interface PolicyAnnotations {
  readonly id?: string;
  readonly reason?: string;
  readonly requires?: string;
  readonly obligations: Obligations;
}

/**
 * Checks one policy's annotations. Cedar gives `@name` without a value as
 * null, so every value is checked for presence. Returns all problems found.
 */
export function readAnnotations(
  raw: Readonly<Record<string, string | null>>,
  effect: 'permit' | 'forbid',
): { annotations: PolicyAnnotations; problems: string[] } {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    if (!(name in raw)) return undefined;
    const v = raw[name];
    if (v === null || v.trim() === '') {
      problems.push(`@${name} must have a non-empty value`);
      return undefined;
    }
    return v;
  };

  for (const name of Object.keys(raw)) {
    if (!(KNOWN_ANNOTATIONS as readonly string[]).includes(name)) {
      problems.push(`unknown annotation @${name} (known: ${KNOWN_ANNOTATIONS.map((a) => '@' + a).join(', ')})`);
    }
  }

  const id = text('id');
  if (!('id' in raw)) problems.push('missing @id("…")');
  else if (id !== undefined && !POLICY_ID.test(id)) {
    problems.push(`@id "${id}" must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit`);
  }

  const reason = text('reason');
  const requires = text('requires');

  const permitOnly = (name: string): boolean => {
    if (effect === 'forbid' && name in raw) {
      problems.push(`@${name} applies only to permit policies`);
      return false;
    }
    return true;
  };

  let approvals: string[] = [];
  const obligation = permitOnly('obligation') ? text('obligation') : undefined;
  if (obligation !== undefined) {
    const parsed = parseObligationAnnotation(obligation);
    approvals = parsed.approvals;
    problems.push(...parsed.problems);
  }

  const positive = (name: string, unit: string): number | undefined => {
    if (!permitOnly(name)) return undefined;
    const v = text(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!POSITIVE_INTEGER.test(v) || !Number.isSafeInteger(n)) {
      problems.push(`@${name} "${v}" must be a positive integer (${unit})`);
      return undefined;
    }
    return n;
  };
  const maxTtlSeconds = positive('max_ttl', 'seconds');
  const maxUses = positive('max_uses', 'uses');

  const obligations: Obligations = {
    approvals,
    ...(maxTtlSeconds === undefined ? {} : { maxTtlSeconds }),
    ...(maxUses === undefined ? {} : { maxUses }),
  };
  return {
    annotations: {
      ...(id === undefined ? {} : { id }),
      ...(reason === undefined ? {} : { reason }),
      ...(requires === undefined ? {} : { requires }),
      obligations,
    },
    problems,
  };
}
