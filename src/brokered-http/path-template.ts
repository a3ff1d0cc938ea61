/**
 * Path templates such as "/tickets/{id}". Each `{param}` stands for exactly one
 * path segment made of unreserved characters, so whatever the agent puts there
 * can never change which resource the URL names beyond that one segment.
 */

export type TemplateSegment = { readonly kind: 'literal'; readonly text: string } | { readonly kind: 'param'; readonly name: string };

export interface PathTemplate {
  readonly source: string;
  readonly segments: readonly TemplateSegment[];
  readonly params: readonly string[];
  readonly trailingSlash: boolean;
}

export const SEGMENT_PATTERN = /^[A-Za-z0-9._~-]+$/;
export const PARAM_NAME_PATTERN = /^[a-z_][a-z0-9_]*$/;
/** Longest agent path accepted; URLs beyond a few KiB are refused by many servers anyway. */
export const MAX_PATH_LENGTH = 2048;

const isDotSegment = (s: string): boolean => s === '.' || s === '..';

/** Parses a template; returns a problem string when it is not valid. */
export function parsePathTemplate(source: string): PathTemplate | string {
  if (source === '/') return Object.freeze({ source, segments: Object.freeze([]), params: Object.freeze([]), trailingSlash: false });
  if (!source.startsWith('/')) return 'must start with "/"';
  const trailingSlash = source.length > 1 && source.endsWith('/');
  const parts = (trailingSlash ? source.slice(1, -1) : source.slice(1)).split('/');
  const segments: TemplateSegment[] = [];
  const params: string[] = [];
  for (const part of parts) {
    const m = /^\{(.*)\}$/.exec(part);
    if (m) {
      const name = m[1]!;
      if (!PARAM_NAME_PATTERN.test(name)) return `parameter {${name}} must be named [a-z_][a-z0-9_]*`;
      if (params.includes(name)) return `parameter {${name}} appears twice`;
      params.push(name);
      segments.push(Object.freeze({ kind: 'param', name }));
    } else if (!SEGMENT_PATTERN.test(part) || isDotSegment(part)) {
      return 'each segment must be {param} or literal [A-Za-z0-9._~-]+ (not "." or "..")';
    } else {
      segments.push(Object.freeze({ kind: 'literal', text: part }));
    }
  }
  return Object.freeze({ source, segments: Object.freeze(segments), params: Object.freeze(params), trailingSlash });
}

/**
 * Checks the agent's concrete path before any matching. Returns the problem
 * (phrased as an expectation) or undefined. Specific messages first, so an
 * agent learns why, then the general character rule catches everything else.
 */
export function agentPathProblem(path: string): string | undefined {
  if (path.length > MAX_PATH_LENGTH) return `must be at most ${MAX_PATH_LENGTH} characters`;
  if (/[\r\n\0]/.test(path)) return 'must not contain CR, LF or NUL';
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path) || path.startsWith('//')) return 'must be a path relative to the action, not an absolute URL';
  if (!path.startsWith('/')) return 'must start with "/"';
  if (path.includes('\\')) return 'must not contain backslashes';
  if (path.includes('%')) return 'must not contain percent-encoding';
  if (path.includes('?') || path.includes('#')) return 'must not contain a query or fragment (send query parameters separately)';
  if (path.includes('//')) return 'must not contain empty segments ("//")';
  if (path.split('/').some(isDotSegment)) return 'must not contain "." or ".." segments';
  if (path !== '/' && !/^(\/[A-Za-z0-9._~-]+)+\/?$/.test(path)) return 'segments must match [A-Za-z0-9._~-]+';
  return undefined;
}

export interface PathMatch {
  readonly template: PathTemplate;
  readonly params: Readonly<Record<string, string>>;
}

function matchOne(template: PathTemplate, path: string): PathMatch | undefined {
  if (path === '/') return template.segments.length === 0 ? { template, params: Object.freeze({}) } : undefined;
  const trailingSlash = path.endsWith('/');
  if (trailingSlash !== template.trailingSlash) return undefined;
  const parts = (trailingSlash ? path.slice(1, -1) : path.slice(1)).split('/');
  if (parts.length !== template.segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = template.segments[i]!;
    const part = parts[i]!;
    if (seg.kind === 'literal') {
      if (seg.text !== part) return undefined;
    } else {
      if (!SEGMENT_PATTERN.test(part) || isDotSegment(part)) return undefined;
      params[seg.name] = part;
    }
  }
  return { template, params: Object.freeze(params) };
}

/**
 * Finds the template an (already checked) agent path fits. When several fit,
 * the one with the most literal segments wins ("/tickets/search" over
 * "/tickets/{id}"), then the first declared.
 */
export function matchPath(templates: readonly PathTemplate[], path: string): PathMatch | undefined {
  let best: PathMatch | undefined;
  let bestLiterals = -1;
  for (const t of templates) {
    const m = matchOne(t, path);
    if (!m) continue;
    const literals = t.segments.filter((s) => s.kind === 'literal').length;
    if (literals > bestLiterals) {
      best = m;
      bestLiterals = literals;
    }
  }
  return best;
}

/** Builds the concrete path from a template and checked parameter values. */
export function renderPath(template: PathTemplate, params: Readonly<Record<string, string>>): string {
  if (template.segments.length === 0) return '/';
  const body = template.segments.map((s) => (s.kind === 'literal' ? s.text : params[s.name]!)).join('/');
  return `/${body}${template.trailingSlash ? '/' : ''}`;
}
