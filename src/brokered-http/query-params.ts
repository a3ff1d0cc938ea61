import { invalidArgument } from '../lib/errors';
import { quote } from './quote-text';
import { hasLoneSurrogate } from './strict-json';

/** Agent query: a map, or a list of pairs. A repeated name is refused. */
export type QueryInput = Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;

export type QueryPairs = ReadonlyArray<readonly [string, string]>;

export const MAX_QUERY_PARAMS = 64;

const hasControlChar = (s: string): boolean => Array.from(s).some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/**
 * Checks the agent's query parameters. Refuses anything a server could read
 * two ways: a repeated name (first wins in one framework, last in another,
 * a list in a third), names that differ only by case, and, for a name that is
 * a declared context field, bracket or dot variants ("amount[]", "amount.x")
 * that PHP/Rails-style parsers fold into the same field.
 */
export function checkQuery(input: QueryInput | undefined, contextNames: readonly string[]): QueryPairs {
  const entries: ReadonlyArray<readonly [unknown, unknown]> = input === undefined ? [] : Array.isArray(input) ? input : Object.entries(input);
  if (entries.length > MAX_QUERY_PARAMS) throw invalidArgument('query', `must have at most ${MAX_QUERY_PARAMS} parameters`);
  const seen = new Map<string, string>();
  const pairs: Array<readonly [string, string]> = [];
  const declared = contextNames.map((n) => n.toLowerCase());
  for (const [name, value] of entries) {
    if (typeof name !== 'string' || name.length === 0 || name.length > 256 || hasControlChar(name)) {
      throw invalidArgument('query', 'names must be 1 to 256 characters without control characters');
    }
    if (typeof value !== 'string') throw invalidArgument(`query.${quote(name)}`, 'must be a string');
    if (hasLoneSurrogate(name) || hasLoneSurrogate(value)) {
      throw invalidArgument(`query.${quote(name)}`, 'must be well-formed Unicode');
    }
    const folded = name.toLowerCase();
    if (seen.has(folded)) throw invalidArgument(`query.${quote(name)}`, 'must appear once (repeated or case-variant names are ambiguous)');
    seen.set(folded, name);
    const family = declared.find((d) => folded !== d && (folded.startsWith(`${d}[`) || folded.startsWith(`${d}.`)));
    if (family !== undefined) throw invalidArgument(`query.${quote(name)}`, `must not be a variant of the context field ${family}`);
    pairs.push([name, value]);
  }
  return pairs;
}

/** RFC 3986 percent-encoding: only unreserved characters stay literal. */
export const encodeQueryComponent = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** "" or "?a=b&c=d", encoded by the broker. */
export const encodeQuery = (pairs: QueryPairs): string =>
  pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeQueryComponent(k)}=${encodeQueryComponent(v)}`).join('&')}`;
