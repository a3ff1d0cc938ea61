import { X509Certificate } from 'node:crypto';
import { alwaysDropped, HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN, HOP_BY_HOP_HEADERS, OVERRIDE_HEADERS } from './header-rules';
import { parseCidr, type Cidr } from './ip-address';
import { PARAM_NAME_PATTERN, parsePathTemplate, type PathTemplate } from './path-template';

/**
 * The compiled, validated and frozen description of one brokered HTTP action.
 * The config compiler builds it once with `compileHttpAction` (which reports
 * every problem at once); the request path only reads it.
 *
 * Mapping from YAML (`actions.<name>.http`):
 *   base_url → baseUrl, methods, paths, auth, allow_networks → allowNetworks,
 *   allow_headers → allowHeaders, ca_files (read) → extraCaPem, context,
 *   integer context fields → integerFields, limits.
 */

/** How the secret is injected. `secret` is the configured secret's name, never its value. */
export type HttpAuth =
  | { readonly kind: 'bearer'; readonly secret: string }
  | { readonly kind: 'basic'; readonly username: string; readonly secret: string }
  | { readonly kind: 'header'; readonly header: string; readonly secret: string; readonly prefix?: string };

export interface HttpLimits {
  /** Largest agent body sent upstream. */
  readonly maxRequestBodyBytes: number;
  /** Largest upstream body accepted, both as received and after decompression. Larger is an error, never a truncation. */
  readonly maxResponseBodyBytes: number;
  /** From the start of the TCP connect to the end of the TLS handshake. */
  readonly connectTimeoutMs: number;
  /** From the start of sendCall (DNS included) to the last response byte. */
  readonly deadlineMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  maxRequestBodyBytes: 1024 * 1024,
  maxResponseBodyBytes: 4 * 1024 * 1024,
  connectTimeoutMs: 5_000,
  deadlineMs: 30_000,
});

/** Where a declared context field is read from. */
export type ContextSource =
  | { readonly kind: 'path'; readonly param: string }
  | { readonly kind: 'query'; readonly name: string }
  | { readonly kind: 'body'; readonly keys: readonly string[] };

/**
 * A declared context field. `integer` fields (amounts, in cents) must be
 * written as a plain JSON integer in a body, or as a decimal integer string in
 * a path or query, and become numbers; other fields are strings (a body may
 * hold a plain integer there too, and it stays a number).
 */
export interface ContextField {
  readonly name: string;
  /** As configured: "body.amount", "query.x", "path.id". */
  readonly source: string;
  readonly from: ContextSource;
  readonly integer: boolean;
}

/** What the config compiler passes in. */
export interface HttpActionInit {
  name: string;
  baseUrl: string | URL;
  methods: readonly string[];
  paths: readonly string[];
  auth: HttpAuth;
  allowNetworks?: readonly string[];
  allowHeaders?: readonly string[];
  /** PEM text of extra trust anchors (bundles allowed); added to Node's root CAs, never replacing them. */
  extraCaPem?: readonly string[];
  /** context field → source ("body.amount", "query.x", "path.id"). */
  context?: Readonly<Record<string, string>>;
  /** Names of context fields that hold integers (amounts in cents). */
  integerFields?: readonly string[];
  limits?: Partial<HttpLimits>;
}

export interface HttpActionSpec {
  readonly name: string;
  /** Normalized https base URL, as text (a URL object could still be mutated after freezing). */
  readonly baseUrl: string;
  readonly origin: string;
  /** Without IPv6 brackets. */
  readonly hostname: string;
  readonly port: number;
  /** The base path without a trailing slash ("" for the root). */
  readonly basePath: string;
  /** Upper-case. */
  readonly methods: readonly string[];
  readonly paths: readonly string[];
  readonly templates: readonly PathTemplate[];
  readonly auth: HttpAuth;
  /** Lower-case name of the header that carries the credential. */
  readonly authHeader: string;
  readonly allowNetworks: readonly string[];
  readonly allowCidrs: readonly Cidr[];
  /** Lower-case. */
  readonly allowHeaders: readonly string[];
  /** One PEM certificate per entry. */
  readonly extraCaPem: readonly string[];
  readonly context: Readonly<Record<string, string>>;
  readonly contextFields: readonly ContextField[];
  readonly integerFields: readonly string[];
  /** True when body fields are declared: the body must be a strict JSON object and the broker sets Content-Type. */
  readonly jsonBody: boolean;
  readonly limits: HttpLimits;
}

export interface HttpActionProblem {
  /** Relative to the action's `http` section, using the YAML key names. */
  readonly path: string;
  readonly message: string;
}

export type HttpActionResult =
  | { readonly spec: HttpActionSpec; readonly problems: readonly [] }
  | { readonly spec: undefined; readonly problems: readonly HttpActionProblem[] };

export class HttpActionSpecError extends Error {
  readonly problems: readonly HttpActionProblem[];
  constructor(name: string, problems: readonly HttpActionProblem[]) {
    super(`action ${name}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.name = 'HttpActionSpecError';
    this.problems = problems;
  }
}

const ALLOWED_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const SOURCE_PATTERN = /^(body(\.[A-Za-z0-9_-]+)+|query\.[A-Za-z0-9_-]+|path\.[a-z_][a-z0-9_]*)$/;
const MAX_BODY_LIMIT = 64 * 1024 * 1024;

/** Validates everything, reporting all problems; on success returns a deep-frozen spec. */
export function compileHttpAction(init: HttpActionInit): HttpActionResult {
  const problems: HttpActionProblem[] = [];
  const add = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  if (!init.name) add('name', 'expected an action name');

  let url: URL | undefined;
  try {
    url = new URL(String(init.baseUrl));
  } catch {
    add('base_url', 'expected an absolute https:// URL');
  }
  if (url && (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || url.hostname === '')) {
    add('base_url', 'expected an https:// URL with a host and without credentials, query or fragment');
  }

  const methods = init.methods.map((m) => m.toUpperCase());
  if (methods.length === 0) add('methods', 'expected at least one method');
  methods.forEach((m, i) => {
    if (!ALLOWED_METHODS.includes(m)) add(`methods[${i}]`, `expected one of ${ALLOWED_METHODS.join(', ')}`);
  });

  const templates: PathTemplate[] = [];
  if (init.paths.length === 0) add('paths', 'expected at least one path template');
  init.paths.forEach((p, i) => {
    const t = parsePathTemplate(p);
    if (typeof t === 'string') add(`paths[${i}]`, t);
    else templates.push(t);
  });

  const authHeader = checkAuth(init.auth, add);

  const allowCidrs: Cidr[] = [];
  (init.allowNetworks ?? []).forEach((n, i) => {
    const c = parseCidr(n);
    if (typeof c === 'string') add(`allow_networks[${i}]`, c);
    else allowCidrs.push(c);
  });

  const allowHeaders = (init.allowHeaders ?? []).map((h) => h.toLowerCase());
  allowHeaders.forEach((h, i) => {
    if (!HEADER_NAME_PATTERN.test(h)) add(`allow_headers[${i}]`, 'expected an HTTP header name');
    else if (alwaysDropped(h, authHeader) || OVERRIDE_HEADERS.includes(h)) add(`allow_headers[${i}]`, `${h} is never passed to an upstream`);
  });

  const extraCaPem: string[] = [];
  (init.extraCaPem ?? []).forEach((bundle, i) => {
    const certs = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (certs.length === 0) add(`ca_files[${i}]`, 'expected PEM certificates');
    for (const pem of certs) {
      try {
        new X509Certificate(pem);
        extraCaPem.push(`${pem}\n`);
      } catch {
        add(`ca_files[${i}]`, 'holds a certificate that does not parse');
      }
    }
  });

  const integerFields = [...(init.integerFields ?? [])];
  const contextFields = checkContext(init.context ?? {}, integerFields, templates, add);

  const limits = { ...DEFAULT_HTTP_LIMITS, ...(init.limits ?? {}) };
  for (const [key, max] of [
    ['maxRequestBodyBytes', MAX_BODY_LIMIT],
    ['maxResponseBodyBytes', MAX_BODY_LIMIT],
    ['connectTimeoutMs', 600_000],
    ['deadlineMs', 3_600_000],
  ] as const) {
    const v = limits[key];
    if (!Number.isSafeInteger(v) || v < 1 || v > max) add(`limits.${key}`, `expected an integer between 1 and ${max}`);
  }

  if (problems.length > 0 || !url) return { spec: undefined, problems: Object.freeze(problems) };

  const spec: HttpActionSpec = {
    name: init.name,
    baseUrl: url.href,
    origin: url.origin,
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? 443 : Number(url.port),
    basePath: url.pathname.replace(/\/+$/, ''),
    methods,
    paths: [...init.paths],
    templates,
    auth: { ...init.auth },
    authHeader,
    allowNetworks: [...(init.allowNetworks ?? [])],
    allowCidrs,
    allowHeaders,
    extraCaPem,
    context: { ...(init.context ?? {}) },
    contextFields,
    integerFields,
    jsonBody: contextFields.some((f) => f.from.kind === 'body'),
    limits,
  };
  return { spec: deepFreeze(spec), problems: Object.freeze([]) as readonly [] };
}

/** compileHttpAction for code and tests that want an exception instead of a problem list. */
export function defineHttpAction(init: HttpActionInit): HttpActionSpec {
  const r = compileHttpAction(init);
  if (!r.spec) throw new HttpActionSpecError(init.name, r.problems);
  return r.spec;
}

function checkAuth(auth: HttpAuth, add: (path: string, message: string) => void): string {
  if (!auth.secret) add('auth', 'expected a secret name');
  switch (auth.kind) {
    case 'bearer':
      return 'authorization';
    case 'basic':
      // RFC 7617: a colon would split the username differently on the upstream.
      if (!auth.username || auth.username.includes(':') || !/^[\x20-\x7e]+$/.test(auth.username)) {
        add('auth.basic.username', 'expected printable ASCII without ":"');
      }
      return 'authorization';
    case 'header': {
      const h = auth.header.toLowerCase();
      if (!HEADER_NAME_PATTERN.test(h)) add('auth.header.name', 'expected an HTTP header name');
      else if (HOP_BY_HOP_HEADERS.includes(h) || h.startsWith('proxy-') || ['host', 'content-length', 'content-type', 'cookie'].includes(h)) {
        add('auth.header.name', `${h} cannot carry a credential`);
      }
      if (auth.prefix !== undefined && !HEADER_VALUE_PATTERN.test(auth.prefix)) add('auth.header.prefix', 'expected printable text');
      return h;
    }
    default:
      add('auth', 'expected bearer, basic or header');
      return 'authorization';
  }
}

function checkContext(
  context: Readonly<Record<string, string>>,
  integerFields: readonly string[],
  templates: readonly PathTemplate[],
  add: (path: string, message: string) => void,
): ContextField[] {
  const fields: ContextField[] = [];
  for (const [name, source] of Object.entries(context)) {
    if (!PARAM_NAME_PATTERN.test(name)) add(`context.${name}`, 'a context field name must match [a-z_][a-z0-9_]*');
    if (!SOURCE_PATTERN.test(source)) {
      add(`context.${name}`, 'expected body.<field>, query.<name> or path.<param>');
      continue;
    }
    const [kind, ...rest] = source.split('.');
    let from: ContextSource;
    if (kind === 'path') {
      const param = rest[0]!;
      // A field every template must supply; otherwise some calls could not be bound.
      if (!templates.every((t) => t.params.includes(param))) add(`context.${name}`, `every path template must have {${param}}`);
      from = { kind: 'path', param };
    } else if (kind === 'query') {
      from = { kind: 'query', name: rest[0]! };
    } else {
      from = { kind: 'body', keys: rest };
    }
    fields.push({ name, source, from, integer: integerFields.includes(name) });
  }
  integerFields.forEach((f, i) => {
    if (!Object.hasOwn(context, f)) add(`integer_fields[${i}]`, `${f} is not a declared context field`);
    if (integerFields.indexOf(f) !== i) add(`integer_fields[${i}]`, `${f} is listed twice`);
  });
  return fields;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
