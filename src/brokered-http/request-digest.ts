import { createHash } from 'node:crypto';
import type { HttpActionSpec } from './http-action';
import type { PreparedCall } from './prepare-call';
import { filterAgentHeaders } from './request-headers';

/**
 * What `invoke.intent` digests: the request as sent, minus the credential, in
 * one canonical form an auditor can rebuild from what the upstream received.
 *
 *   <METHOD> SP <URL> LF
 *   <name> ":" SP <value> LF      one line per header, names lower-case, sorted by name (byte order)
 *   LF
 *   <body bytes>
 *
 * The text part is ISO-8859-1, as Node writes header values (all of it is
 * ASCII unless an agent header value has obs-text bytes). Header values never
 * hold CR or LF and names are unique, so the form is unambiguous. The headers
 * are exactly those sendCall sends except the credential header (the action's
 * auth header) and the two Node's HTTP stack adds: `host` (the URL's
 * authority) and `connection` (hop-by-hop). Broker-set headers are included:
 * `accept-encoding`, `idempotency-key`, `content-length`, and `content-type`
 * when the broker sets it.
 */
export interface SentRequest {
  readonly method: string;
  readonly url: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

const BODY_METHODS: readonly string[] = Object.freeze(['POST', 'PUT', 'PATCH']);

/** Every header sendCall sends except the credential (and Node's own Host and Connection). */
export function outboundHeaders(prepared: PreparedCall, spec: HttpActionSpec, idempotencyKey: string): Record<string, string> {
  // Filter again: the allow-list is the last word even if a caller built the headers by hand.
  const headers = filterAgentHeaders(spec, prepared.headers);
  if (spec.jsonBody) headers['content-type'] = 'application/json';
  headers['accept-encoding'] = 'identity';
  headers['idempotency-key'] = idempotencyKey;
  if (prepared.body.length > 0 || BODY_METHODS.includes(prepared.method)) headers['content-length'] = String(prepared.body.length);
  return headers;
}

/** The canonical bytes (see above). */
export function canonicalRequest(req: SentRequest): Buffer {
  const names = Object.keys(req.headers).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const head = `${req.method} ${req.url}\n${names.map((n) => `${n}: ${req.headers[n]!}\n`).join('')}\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), req.body]);
}

/** Hex SHA-256 of the canonical form of the call sendCall will make with this idempotency key. */
export function sentRequestDigest(prepared: PreparedCall, spec: HttpActionSpec, idempotencyKey: string): string {
  const req = { method: prepared.method, url: prepared.url, headers: outboundHeaders(prepared, spec, idempotencyKey), body: prepared.body };
  return createHash('sha256').update(canonicalRequest(req)).digest('hex');
}
