import { isIP } from 'node:net';

/**
 * The source a connection counts under when handshake room on the mTLS port
 * is shared out: an IPv4 address as it is; an IPv6 address by its /64 prefix
 * (one host or one customer commonly holds a whole /64); an IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`, as a dual-stack listener reports IPv4 peers) as
 * the IPv4 address. A socket already gone has no address: ''.
 */
export function sourceAddress(address: string | undefined): string {
  const ip = (address ?? '').split('%')[0]!; // drop an IPv6 zone index
  if (isIP(ip) !== 6) return ip;
  const g = ipv6Groups(ip);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail as two groups). */
function ipv6Groups(ip: string): number[] {
  const parse = (part: string | undefined): number[] =>
    part
      ? part.split(':').flatMap((x) => {
          if (!x.includes('.')) return [parseInt(x, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = x.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        })
      : [];
  const [head, tail] = ip.split('::');
  const h = parse(head);
  const t = parse(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}
