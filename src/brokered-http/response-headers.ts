import { HOP_BY_HOP_HEADERS } from './header-rules';
import type { SecretScrubber } from './secret-scrubber';

/** Response headers never returned to an agent. */
const DROPPED: readonly string[] = Object.freeze([
  // Cookies are session credentials minted for the broker's identity.
  'set-cookie',
  'set-cookie2',
  // Describe bytes we re-encode: we decompress, scrub and recompute the length.
  'content-encoding',
  'content-length',
  'transfer-encoding',
  // Digests of the original body no longer fit the scrubbed one.
  'content-md5',
  'digest',
  'content-digest',
  'repr-digest',
]);

/** Headers that point somewhere; kept only when they point back at the action's own origin. */
const LOCATION_HEADERS: readonly string[] = Object.freeze(['location', 'content-location']);

function sameOrigin(value: string, requestUrl: string, origin: string): boolean {
  try {
    return new URL(value, requestUrl).origin === origin;
  } catch {
    return false;
  }
}

/**
 * Filters and scrubs upstream headers (`rawHeaders` pairs as Node gives them).
 * Returns lower-case names, repeated headers joined with ", ", and a
 * Content-Length for the final body. Redirect targets on another origin are
 * dropped: they may carry capability tokens (pre-signed URLs) meant for the
 * broker, and the broker never follows them.
 */
export function scrubResponseHeaders(
  rawHeaders: readonly string[],
  opts: { requestUrl: string; origin: string; scrubber: SecretScrubber; bodyLength: number },
): { headers: Record<string, string>; count: number } {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i]!.toLowerCase(), rawHeaders[i + 1]!]);
  const connectionListed = pairs
    .filter(([n]) => n === 'connection')
    .flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase()));

  let count = 0;
  const grouped = new Map<string, string[]>();
  for (const [name, value] of pairs) {
    if (DROPPED.includes(name) || HOP_BY_HOP_HEADERS.includes(name) || name.startsWith('proxy-') || connectionListed.includes(name)) continue;
    if (LOCATION_HEADERS.includes(name) && !sameOrigin(value, opts.requestUrl, opts.origin)) continue;
    // A header *name* cannot hold "[REDACTED]", so a name carrying the secret goes entirely.
    const n = opts.scrubber.scrubHeaderValue(name);
    if (n.count > 0) {
      count += n.count;
      continue;
    }
    const v = opts.scrubber.scrubHeaderValue(value);
    count += v.count;
    const list = grouped.get(name) ?? [];
    list.push(v.value);
    grouped.set(name, list);
  }
  const headers: Record<string, string> = {};
  for (const [name, values] of grouped) headers[name] = values.join(', ');
  headers['content-length'] = String(opts.bodyLength);
  return { headers, count };
}
