import type { ContextValue } from '../leases/lease';
import type { Json } from './struct';

/** What a `decision` entry records of its inputs, so `policy replay` can decide it again. */
export interface RecordedInputs {
  /** The action's declared context values as the policy saw them. */
  context: Record<string, ContextValue>;
  params: Record<string, Json>;
  /** context.trust_fresh at decision time (score and tier are the entry's `trust`). */
  trust_fresh: boolean;
  /** context.budget.<field>.used, for an action with a budget. */
  budget_used?: number;
  /** A new grant's asked TTL (s) and uses, 0 meaning the action's defaults (the budget's limit depends on them). */
  grant?: { ttl_seconds: number; max_uses: number } | 'one-shot';
}

/** Inputs too large to record: the entry says so, and replay skips it (counted). */
export interface OmittedInputs {
  omitted: 'over_cap';
  bytes: number;
}

/** At most this many bytes (UTF-8 JSON) of inputs go into one entry; the entry itself is capped at 64 KiB. */
export const RECORDED_INPUTS_CAP = 8 * 1024;

export function recordInputs(input: {
  context: Readonly<Record<string, ContextValue>>;
  params: Readonly<Record<string, Json>>;
  fresh: boolean;
  budgetUsed?: number;
  grant?: { ttlSeconds: number; maxUses: number } | 'one-shot';
}): RecordedInputs | OmittedInputs {
  const rec: RecordedInputs = {
    context: { ...input.context },
    params: { ...input.params },
    trust_fresh: input.fresh,
    ...(input.budgetUsed !== undefined ? { budget_used: input.budgetUsed } : {}),
    ...(input.grant ? { grant: input.grant === 'one-shot' ? 'one-shot' : { ttl_seconds: input.grant.ttlSeconds, max_uses: input.grant.maxUses } } : {}),
  };
  const bytes = Buffer.byteLength(JSON.stringify(rec), 'utf8');
  return bytes > RECORDED_INPUTS_CAP ? { omitted: 'over_cap', bytes } : rec;
}
