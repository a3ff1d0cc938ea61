import { invalidArgument } from '../lib/errors';
import { HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN, headerDisposition } from './header-rules';
import type { HttpActionSpec } from './http-action';

/** Agent headers: a map, or a list of pairs (a repeated name is refused either way). */
export type HeaderInput = Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;

export const MAX_AGENT_HEADERS = 64;
export const MAX_HEADER_VALUE_LENGTH = 8192;

const entriesOf = (input: HeaderInput | undefined): ReadonlyArray<readonly [unknown, unknown]> =>
  input === undefined ? [] : Array.isArray(input) ? input : Object.entries(input);

/**
 * Turns agent headers into the ones that may go upstream (lower-case names).
 * Malformed or ambiguous headers refuse the call; method or path override
 * headers refuse it too; everything else not allowed is dropped quietly.
 */
export function filterAgentHeaders(spec: HttpActionSpec, input: HeaderInput | undefined): Record<string, string> {
  const entries = entriesOf(input);
  if (entries.length > MAX_AGENT_HEADERS) throw invalidArgument('headers', `must be at most ${MAX_AGENT_HEADERS} headers`);
  const seen = new Set<string>();
  const out: Record<string, string> = {};
  const rules = { allowHeaders: spec.allowHeaders, authHeader: spec.authHeader, brokerContentType: spec.jsonBody };
  for (const [rawName, value] of entries) {
    if (typeof rawName !== 'string' || !HEADER_NAME_PATTERN.test(rawName) || rawName.length > 256) {
      throw invalidArgument('headers', 'names must be HTTP tokens ([!#$%&\'*+.^_`|~0-9A-Za-z-]+, no CR/LF) of at most 256 characters');
    }
    const name = rawName.toLowerCase();
    if (typeof value !== 'string' || !HEADER_VALUE_PATTERN.test(value)) {
      throw invalidArgument(`headers.${name}`, 'value must be printable text without CR, LF or NUL');
    }
    if (value.length > MAX_HEADER_VALUE_LENGTH) throw invalidArgument(`headers.${name}`, `value must be at most ${MAX_HEADER_VALUE_LENGTH} characters`);
    if (seen.has(name)) throw invalidArgument(`headers.${name}`, 'must appear once');
    // A compressed body could carry any field past the smuggling checks, which read the body as sent.
    if (name === 'content-encoding' && !/^\s*(identity\s*)?$/i.test(value)) {
      throw invalidArgument('headers.content-encoding', 'must be identity or absent: the broker checks a request body as it is sent, so send it uncompressed');
    }
    seen.add(name);
    const disposition = headerDisposition(name, rules);
    if (disposition === 'reject') {
      throw invalidArgument(`headers.${name}`, 'method and path override headers are not allowed; use the method and path of the call');
    }
    if (disposition === 'pass') out[name] = value;
  }
  return out;
}

/** Agent's declared Content-Type, whether or not it will be forwarded. */
export function agentContentType(input: HeaderInput | undefined): string | undefined {
  for (const [name, value] of entriesOf(input)) {
    if (typeof name === 'string' && name.toLowerCase() === 'content-type' && typeof value === 'string') return value;
  }
  return undefined;
}
