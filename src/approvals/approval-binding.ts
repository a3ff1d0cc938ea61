import { createHash } from 'node:crypto';
import type { Json } from '../broker/struct';
import { canonicalize } from '../evidence/canonical-json';

/**
 * What an approval covers: exactly one request. It is hashed as the SHA-256
 * of its RFC 8785 (canonical JSON) form; redeeming the approval with any part
 * different is refused, naming the part.
 */
export interface ApprovalBinding {
  agent: string;
  action: string;
  resource: string;
  params: Record<string, Json>;
  purpose: string;
  ttl_seconds: number;
  max_uses: number;
  /** The id of the permit whose obligation asked for the approval. */
  rule: string;
  /** The policy-set version it was decided under. */
  policy_version: string;
}

/** The parts in the order a mismatch names them. */
const PARTS: ReadonlyArray<keyof ApprovalBinding> = Object.freeze(['agent', 'action', 'resource', 'params', 'purpose', 'ttl_seconds', 'max_uses', 'rule', 'policy_version'] as const);

/** A binding's canonical bytes are bounded like a lease's params (8 KiB) plus the rest. */
export const MAX_BINDING_BYTES = 32_768;

/** Only the binding's own parts, in a fresh plain object (nothing else an input object carries is hashed). */
export function bindingOf(b: ApprovalBinding): ApprovalBinding {
  return {
    agent: b.agent,
    action: b.action,
    resource: b.resource,
    params: b.params,
    purpose: b.purpose,
    ttl_seconds: b.ttl_seconds,
    max_uses: b.max_uses,
    rule: b.rule,
    policy_version: b.policy_version,
  };
}

/** SHA-256 (hex) of the binding's RFC 8785 form. */
export function bindingHash(b: ApprovalBinding): string {
  return createHash('sha256').update(canonicalize(bindingOf(b), { maxBytes: MAX_BINDING_BYTES })).digest('hex');
}

const canon = (v: unknown): string => (v === undefined ? '' : canonicalize(v, { maxBytes: MAX_BINDING_BYTES }).toString('utf8'));
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const SIMPLE_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_NAMED = 10;

/** `params.amount`, or `params["odd key"]` for a key that is not a plain word (shortened). */
function child(path: string, key: string): string {
  return SIMPLE_KEY.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key.slice(0, 64))}]`;
}

function diffValues(approved: unknown, requested: unknown, path: string, out: string[]): void {
  if (out.length >= MAX_NAMED) return;
  if (isPlainObject(approved) && isPlainObject(requested)) {
    const keys = [...new Set([...Object.keys(approved), ...Object.keys(requested)])].sort();
    for (const k of keys) {
      // A key on one side only differs even when the other side's value is null.
      if (Object.hasOwn(approved, k) !== Object.hasOwn(requested, k)) {
        if (out.length < MAX_NAMED) out.push(child(path, k));
      } else diffValues(approved[k], requested[k], child(path, k), out);
    }
    return;
  }
  if (canon(approved) !== canon(requested)) out.push(path);
}

/**
 * The parts of `requested` that differ from `approved` ("params.amount",
 * "ttl_seconds", "rule", ...), in a fixed order; at most ten, each shortened.
 * Empty when they are the same request.
 */
export function bindingDifferences(approved: ApprovalBinding, requested: ApprovalBinding): string[] {
  const out: string[] = [];
  for (const part of PARTS) diffValues(approved[part], requested[part], part, out);
  return out;
}
