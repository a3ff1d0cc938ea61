import { BrokerError } from '../lib/errors';
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
 * The targets a header points to: the whole value for Location and
 * Content-Location, every `<uri-reference>` of a Link (RFC 8288), and the
 * `url=` part of a Refresh (`5; url=…`, none for a plain reload). Undefined
 * when the header does not point anywhere; 'unreadable' for a Link without a
 * target or a Refresh we cannot read, which are dropped too.
 */
function targets(name: string, value: string): string[] | 'unreadable' | undefined {
  if (LOCATION_HEADERS.includes(name)) return [value];
  if (name === 'link') {
    const uris = [...value.matchAll(/<([^>]*)>/g)].map((m) => m[1]!);
    return uris.length > 0 ? uris : 'unreadable';
  }
  if (name === 'refresh') {
    const m = /^\s*[0-9.]*\s*(?:[;,]\s*(?:url\s*=\s*)?(.*?)\s*)?$/is.exec(value);
    if (!m) return 'unreadable';
    const url = (m[1] ?? '').replace(/^(["'])(.*)\1$/s, '$2');
    return url === '' ? [] : [url];
  }
  return undefined;
}

function pointsAway(name: string, value: string, requestUrl: string, origin: string): boolean {
  const t = targets(name, value);
  return t === 'unreadable' || (t !== undefined && t.some((u) => !sameOrigin(u, requestUrl, origin)));
}

/**
 * Filters and scrubs upstream headers (`rawHeaders` pairs as Node gives them).
 * Returns lower-case names, repeated headers joined with ", ", and a
 * Content-Length for the final body. Location, Content-Location, Link and
 * Refresh headers that point to another origin are dropped: they may carry
 * capability tokens (pre-signed URLs) meant for the broker, and the broker
 * never follows them. When the kept values, each already scrubbed, hold the
 * secret once concatenated (a secret split over headers), the whole response
 * is refused (UNAVAILABLE): no single value can be redacted to stop it.
 */
export function scrubResponseHeaders(
  rawHeaders: readonly string[],
  opts: { action: string; requestUrl: string; origin: string; scrubber: SecretScrubber; bodyLength: number },
): { headers: Record<string, string>; count: number } {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i]!.toLowerCase(), rawHeaders[i + 1]!]);
  const connectionListed = pairs
    .filter(([n]) => n === 'connection')
    .flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase()));

  let count = 0;
  const grouped = new Map<string, string[]>();
  const kept: string[] = [];
  for (const [name, value] of pairs) {
    if (DROPPED.includes(name) || HOP_BY_HOP_HEADERS.includes(name) || name.startsWith('proxy-') || connectionListed.includes(name)) continue;
    if (pointsAway(name, value, opts.requestUrl, opts.origin)) continue;
    // A header *name* cannot hold "[REDACTED]", so a name carrying the secret goes entirely.
    const n = opts.scrubber.scrubHeaderValue(name);
    if (n.count > 0) {
      count += n.count;
      continue;
    }
    const v = opts.scrubber.scrubHeaderValue(value);
    count += v.count;
    kept.push(v.value);
    const list = grouped.get(name) ?? [];
    list.push(v.value);
    grouped.set(name, list);
  }
  const headers: Record<string, string> = {};
  for (const [name, values] of grouped) headers[name] = values.join(', ');
  // Split secrets: the values in the order received, and grouped by name as the agent gets them.
  for (const joined of [kept.join(''), [...grouped.values()].flat().join('')]) {
    if (opts.scrubber.scrubHeaderValue(joined).count > 0) {
      throw new BrokerError('unavailable', `the upstream of action ${opts.action} sent a response the broker cannot scrub: header values that together hold the secret`);
    }
  }
  headers['content-length'] = String(opts.bodyLength);
  return { headers, count };
}
