import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

/**
 * The slice of cedar-wasm the policy code calls. Passing it in (instead of
 * importing it everywhere) lets tests force an engine failure and check that
 * it becomes a denial.
 */
export type CedarApi = Pick<
  typeof cedar,
  'policySetTextToParts' | 'policyToJson' | 'policyToText' | 'preparsePolicySet' | 'statefulIsAuthorized'
>;

export const defaultCedarApi: CedarApi = Object.freeze({
  policySetTextToParts: cedar.policySetTextToParts,
  policyToJson: cedar.policyToJson,
  policyToText: cedar.policyToText,
  preparsePolicySet: cedar.preparsePolicySet,
  statefulIsAuthorized: cedar.statefulIsAuthorized,
});

export type { PolicyJson, Expr, Clause, EntityUidJson, Context, Entities, DetailedError } from '@cedar-policy/cedar-wasm/nodejs';

/** Flattens a Cedar error with its `related` chain into one line. */
export function cedarErrorText(errors: readonly cedar.DetailedError[]): string {
  const parts: string[] = [];
  const walk = (e: cedar.DetailedError): void => {
    parts.push(e.help ? `${e.message} (${e.help})` : e.message);
    for (const r of e.related ?? []) walk(r);
  };
  for (const e of errors) walk(e);
  return parts.join('; ') || 'unknown Cedar error';
}
