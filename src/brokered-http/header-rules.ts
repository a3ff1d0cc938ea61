/**
 * Which agent headers may never reach an upstream, whatever an action's
 * allow_headers says. Kept apart from the filtering code so the action
 * compiler can warn about allow_headers entries that can never pass.
 */

/** RFC 9110 token: the only characters a header name may have. */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space, tab and obs-text. No CR, LF, NUL or other controls. */
export const HEADER_VALUE_PATTERN = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Connection-level headers; they describe this hop, not the request. */
export const HOP_BY_HOP_HEADERS: readonly string[] = Object.freeze([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Credentials the agent might try to add or replace. */
export const CREDENTIAL_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'cookie2',
  'x-api-key',
]);

/** Headers the broker sets itself, so the agent's copy is dropped. */
export const BROKER_SET_HEADERS: readonly string[] = Object.freeze(['host', 'content-length', 'accept-encoding', 'idempotency-key', 'expect']);

/** Headers upstream stacks trust for the client's identity or route; an agent must not spoof them. */
export const FORWARDING_HEADERS: readonly string[] = Object.freeze(['forwarded', 'via', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'client-ip']);

/**
 * Headers that make servers act on a different method or path than the
 * request line says. Sending one is an attempt to leave the template, so the
 * call is refused rather than the header quietly dropped.
 */
export const OVERRIDE_HEADERS: readonly string[] = Object.freeze([
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
]);

export type HeaderDisposition = 'pass' | 'drop' | 'reject';

/**
 * What happens to an agent header (name already lower-case). `authHeader` is
 * the action's own credential header; `brokerContentType` is true when the
 * broker sets Content-Type itself (body fields are declared).
 */
export function headerDisposition(
  name: string,
  rules: { allowHeaders: readonly string[]; authHeader: string; brokerContentType: boolean },
): HeaderDisposition {
  if (OVERRIDE_HEADERS.includes(name)) return 'reject';
  if (alwaysDropped(name, rules.authHeader)) return 'drop';
  if (rules.brokerContentType && name === 'content-type') return 'drop';
  return rules.allowHeaders.includes(name) ? 'pass' : 'drop';
}

/** True when no configuration can let this header through. */
export function alwaysDropped(name: string, authHeader: string): boolean {
  return (
    HOP_BY_HOP_HEADERS.includes(name) ||
    name.startsWith('proxy-') ||
    CREDENTIAL_HEADERS.includes(name) ||
    name === authHeader ||
    BROKER_SET_HEADERS.includes(name) ||
    FORWARDING_HEADERS.includes(name) ||
    name.startsWith('x-forwarded-')
  );
}
