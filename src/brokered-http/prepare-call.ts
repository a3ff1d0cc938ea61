import { BrokerError, invalidArgument } from '../lib/errors';
import { extractContext, type ContextValue } from './context-fields';
import type { HttpActionSpec } from './http-action';
import { checkParamNames, formFieldNames } from './parameter-names';
import { agentPathProblem, matchPath, renderPath } from './path-template';
import { checkQuery, encodeQuery, type QueryInput } from './query-params';
import { isAsciiCompatibleCharset } from './response-form';
import { agentContentType, filterAgentHeaders, type HeaderInput } from './request-headers';
import { parseStrictJson, StrictJsonError, type JsonValue } from './strict-json';

/** What the agent asked for in an Invoke. */
export interface AgentHttpRequest {
  readonly method: string;
  /** The concrete path relative to the action's base URL, e.g. "/tickets/T-1". */
  readonly path: string;
  readonly query?: QueryInput;
  readonly headers?: HeaderInput;
  readonly body?: Uint8Array;
}

/**
 * A call the broker has checked and built, without any secret in it. Safe to
 * digest into evidence (`invoke.intent`) and to compare with a lease before
 * sendCall injects the credential.
 */
export interface PreparedCall {
  readonly action: string;
  readonly method: string;
  /** Absolute URL built by the broker: base URL + template + params + encoded query. */
  readonly url: string;
  /** Lower-case names; agent headers that passed, plus a broker-set Content-Type for JSON actions. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The template that matched, e.g. "/tickets/{id}", and its parameter values. */
  readonly pathTemplate: string;
  readonly pathParams: Readonly<Record<string, string>>;
  /** The declared context fields as extracted from the call. */
  readonly context: Readonly<Record<string, ContextValue>>;
}

export const MAX_URL_LENGTH = 8192;

const BODYLESS_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD']);

const isJsonMediaType = (ct: string | undefined): boolean =>
  ct !== undefined && /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(ct.trim());

const isFormMediaType = (ct: string | undefined): boolean => ct !== undefined && /^application\/x-www-form-urlencoded\s*(;|$)/i.test(ct.trim());

const JSON_WS: readonly number[] = Object.freeze([0x20, 0x09, 0x0a, 0x0d]);
const BOM_OR_NUL: readonly number[] = Object.freeze([0x00, 0xef, 0xbb, 0xbf, 0xfe, 0xff]);

/**
 * Top-level field names an upstream could read from the body: the keys of a
 * JSON object, also one not labelled JSON (some servers decode the body
 * whatever its Content-Type), and the names of a form. A body that starts
 * like a JSON object (after white space, NUL bytes or a byte-order mark, so
 * UTF-16 and UTF-32 JSON count) must be strict
 * JSON whatever its label: a lenient decoder keeps the last of duplicate keys
 * and ignores what follows the first value, so one the strict parser refuses
 * could still carry a smuggled field.
 */
function bodyFieldNames(spec: HttpActionSpec, body: Buffer, json: JsonValue | undefined, contentType: string | undefined): string[] {
  if (json instanceof Map) return [...json.keys()];
  if (spec.jsonBody || body.length === 0) return [];
  const names = isFormMediaType(contentType) ? formFieldNames(checkFormCharset(contentType, body)) : [];
  // Byte-order marks (UTF-8, UTF-16, UTF-32), white space and NUL bytes are skipped: Jackson detects
  // UTF-16 and UTF-32 JSON by its first bytes, so `00 7B` starts an object too.
  let i = 0;
  while (i < body.length && (JSON_WS.includes(body[i]!) || BOM_OR_NUL.includes(body[i]!))) i++;
  if (body[i] !== 0x7b) return names;
  try {
    const value = parseStrictJson(body);
    return value instanceof Map ? [...names, ...value.keys()] : names;
  } catch (err) {
    if (err instanceof StrictJsonError) throw invalidArgument('body', `starts like a JSON object, so it must be unambiguous JSON whatever its Content-Type; it ${err.message}`);
    throw err;
  }
}

/**
 * A form body is read as bytes with `&` and `=` between names and values, but
 * servers such as Tomcat decode each name and value in the declared charset:
 * in UTF-16 the broker would see NUL-laden names where the upstream reads
 * `amount`. So a form's charset must be ASCII-compatible (UTF-8, Latin-1, …).
 */
function checkFormCharset(contentType: string | undefined, body: Buffer): Buffer {
  const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^\s;,]*))/i.exec(contentType ?? '');
  if (m && !isAsciiCompatibleCharset(m[1] ?? m[2] ?? '')) {
    throw invalidArgument('headers.content-type', 'a form body must be in an ASCII-compatible charset such as UTF-8 (its names are checked byte by byte)');
  }
  return body;
}

/**
 * Checks an agent's request against the action and builds the exact call the
 * broker will make. Pure and synchronous; throws BrokerError
 * (invalid_argument, or resource_exhausted for a body over the limit).
 */
export function prepareCall(spec: HttpActionSpec, req: AgentHttpRequest): PreparedCall {
  const method = req.method;
  if (typeof method !== 'string' || !spec.methods.includes(method)) {
    throw invalidArgument('method', `must be one of ${spec.methods.join(', ')}`);
  }

  if (typeof req.path !== 'string') throw invalidArgument('path', 'must be a string');
  const problem = agentPathProblem(req.path);
  if (problem) throw invalidArgument('path', problem);
  const match = matchPath(spec.templates, req.path);
  if (!match) throw invalidArgument('path', `must match one of ${spec.paths.join(', ')}, each {param} one segment of [A-Za-z0-9._~-]+`);

  const queryContext = spec.contextFields.flatMap((f) => (f.from.kind === 'query' ? [f.from.name] : []));
  const query = checkQuery(req.query, queryContext);
  checkParamNames(spec, 'query', query.map(([name]) => name));

  const headers = filterAgentHeaders(spec, req.headers);

  const body = Buffer.from(req.body ?? new Uint8Array(0));
  if (body.length > spec.limits.maxRequestBodyBytes) {
    throw new BrokerError('resource_exhausted', `body: must be at most ${spec.limits.maxRequestBodyBytes} bytes for this action`);
  }
  if (body.length > 0 && BODYLESS_METHODS.includes(method)) throw invalidArgument('body', `must be empty for ${method}`);

  let json: JsonValue | undefined;
  if (spec.jsonBody && body.length === 0) throw invalidArgument('body', 'must be a JSON object (the action reads fields from it)');
  if (spec.jsonBody || (body.length > 0 && isJsonMediaType(agentContentType(req.headers)))) {
    try {
      json = parseStrictJson(body);
    } catch (err) {
      if (err instanceof StrictJsonError) throw invalidArgument('body', `must be unambiguous JSON; it ${err.message}`);
      throw err;
    }
    if (spec.jsonBody && !(json instanceof Map)) throw invalidArgument('body', 'must be a JSON object (the action reads fields from it)');
  }
  checkParamNames(spec, 'body', bodyFieldNames(spec, body, json, agentContentType(req.headers)));
  // The broker vouches for the body's type: an agent could otherwise send JSON
  // labelled as a form, which the upstream would parse into different fields.
  if (spec.jsonBody) headers['content-type'] = 'application/json';

  const context = extractContext(spec, { params: match.params, query, body: json });

  const path = spec.basePath + renderPath(match.template, match.params);
  const url = `${spec.origin}${path}${encodeQuery(query)}`;
  if (url.length > MAX_URL_LENGTH) throw invalidArgument('query', `the URL must stay under ${MAX_URL_LENGTH} characters`);
  // Defence in depth: the URL parser must see exactly the origin and path we built.
  const parsed = new URL(url);
  if (parsed.origin !== spec.origin || parsed.pathname !== path) throw invalidArgument('path', 'must name a resource of this action');

  return Object.freeze({
    action: spec.name,
    method,
    url: parsed.href,
    headers: Object.freeze(headers),
    body,
    pathTemplate: match.template.source,
    pathParams: match.params,
    context: Object.freeze(context),
  });
}
