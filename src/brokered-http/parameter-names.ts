import { invalidArgument } from '../lib/errors';
import { OVERRIDE_HEADERS } from './header-rules';
import type { HttpActionSpec } from './http-action';
import { quote } from './quote-text';

/**
 * Parameter names an upstream framework could read in place of a bound
 * context value or the request's method. Rails and PHP's $_REQUEST let the
 * query override the body, Laravel and Symfony read `_method` from a form or
 * JSON body, and PHP and Rails fold `amount[]` into `amount`. A call that
 * sends such a name beside the declared source is ambiguous, so it is refused
 * rather than sent.
 */

/**
 * NFKC then lower case (Go's encoding/json matches keys with Unicode case
 * folding, where U+017F long s is an `s` and U+212A Kelvin a `k`; NFKC maps
 * those and fullwidth forms to ASCII), `[` and `]` removed, spaces at the ends
 * trimmed, and `.`, `_`, `-` and space treated alike (as `_`; PHP turns
 * spaces and dots into `_`).
 */
export const foldParamName = (name: string): string =>
  name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[[\]]/g, '')
    .trim()
    .replace(/[. -]/g, '_');

/**
 * The name as a bracket-parsing framework files it: the part before the first
 * `[`, and before the first NUL (PHP registers names as C strings, so
 * `amount\0x` is `amount`), folded.
 */
const bracketHead = (name: string): string => foldParamName(name.split('\0', 1)[0]!.split('[', 1)[0]!);

/** Method-override parameters: `_method`, `__method` and the override headers' names, folded. */
const METHOD_OVERRIDE_NAMES: ReadonlySet<string> = new Set(['_method', '__method', ...OVERRIDE_HEADERS].map(foldParamName));

export type ParamPlace = 'query' | 'body';

/** A declared context field's name and its source's leaf name (`amount` for `body.amount`, `id` for `path.id`), folded. */
function shadowedFields(spec: HttpActionSpec): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of spec.contextFields) {
    const leaf = f.from.kind === 'path' ? f.from.param : f.from.kind === 'query' ? f.from.name : f.from.keys[f.from.keys.length - 1]!;
    for (const n of [f.name, leaf]) if (!out.has(foldParamName(n))) out.set(foldParamName(n), f.name);
  }
  return out;
}

/** True when `name` in `place` is exactly where a context field is read from. */
function isDeclaredSource(spec: HttpActionSpec, place: ParamPlace, name: string): boolean {
  return spec.contextFields.some((f) =>
    place === 'query' ? f.from.kind === 'query' && f.from.name === name : f.from.kind === 'body' && f.from.keys.length === 1 && f.from.keys[0] === name,
  );
}

/**
 * Refuses (INVALID_ARGUMENT) a query parameter or top-level body field name
 * that folds to a context field's name or its source's leaf name, unless it is
 * itself the declared source, and any method-override parameter.
 */
export function checkParamNames(spec: HttpActionSpec, place: ParamPlace, names: Iterable<string>): void {
  const shadowed = shadowedFields(spec);
  for (const name of names) {
    const forms = [foldParamName(name), bracketHead(name)];
    const field = `${place}.${quote(name)}`;
    if (forms.some((f) => METHOD_OVERRIDE_NAMES.has(f))) {
      throw invalidArgument(field, 'method and path override parameters are not allowed; use the method and path of the call');
    }
    if (isDeclaredSource(spec, place, name)) continue;
    const hit = forms.map((f) => shadowed.get(f)).find((f) => f !== undefined);
    if (hit !== undefined) {
      throw invalidArgument(field, `must not shadow the context field ${hit} (${spec.context[hit]}): an upstream could read it instead of the bound value`);
    }
  }
}

/**
 * The field names of an application/x-www-form-urlencoded body, decoded as
 * servers decode them (`+` is a space). `;` separates too, as some parsers
 * still split on it. A name whose percent-encoding does not decode is refused.
 */
export function formFieldNames(body: Buffer): string[] {
  const text = body.toString('latin1');
  if (text === '') return [];
  return text.split(/[&;]/).flatMap((part) => {
    if (part === '') return [];
    const raw = part.split('=', 1)[0]!.replace(/\+/g, ' ');
    try {
      return [decodeURIComponent(raw)];
    } catch {
      throw invalidArgument('body', 'must be well-formed application/x-www-form-urlencoded (a field name has a bad %-escape)');
    }
  });
}
