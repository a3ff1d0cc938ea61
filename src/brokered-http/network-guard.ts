import { cidrContains, parseCidr, parseIp, type Cidr, type IpAddress } from './ip-address';

/** Why an address is refused, or that it may be used. */
export type AddressVerdict = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** A built-in range as [CIDR text, reason]; kept as text so no shared mutable bytes live at module level. */
type Range = readonly [cidr: string, reason: string];

function inRange(r: Range | string, ip: IpAddress): boolean {
  const cidr = parseCidr(typeof r === 'string' ? r : r[0]);
  if (typeof cidr === 'string') throw new Error(`bad built-in range ${String(r)}`);
  return cidrContains(cidr, ip);
}

const frozen = (ranges: Range[]): readonly Range[] => Object.freeze(ranges.map((r) => Object.freeze(r)));

// IPv4 space that must never be reached by default: an agent could use a
// brokered call to reach the broker's own host, its network or a cloud
// metadata service, with a credential attached.
const REFUSED_V4: readonly Range[] = frozen([
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared address space (CGNAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignment'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
]);

// IPv6 is checked allow-list style: only global unicast (2000::/3) may pass,
// minus the parts of it that are special. Forms that embed an IPv4 address are
// judged by that IPv4 address.
const GLOBAL_UNICAST_V6 = '2000::/3';
const REFUSED_V6_OUTSIDE_GLOBAL: readonly Range[] = frozen([
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'private (unique local)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
]);
const REFUSED_V6_GLOBAL: readonly Range[] = frozen([
  ['2001::/32', 'Teredo tunnel'],
  ['2001:2::/48', 'benchmarking'],
  ['2001:10::/28', 'ORCHID'],
  ['2001:20::/28', 'ORCHIDv2'],
  ['2001:db8::/32', 'documentation'],
]);
const V4_MAPPED = '::ffff:0:0/96';
const NAT64 = '64:ff9b::/96';
const SIX_TO_FOUR = '2002::/16';

/** The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), with the name of the form. */
export function embeddedV4(ip: IpAddress): { form: string; v4: IpAddress } | undefined {
  if (ip.family !== 6) return undefined;
  if (inRange(V4_MAPPED, ip)) return { form: 'IPv4-mapped', v4: { family: 4, bytes: ip.bytes.slice(12) } };
  if (inRange(NAT64, ip)) return { form: 'NAT64', v4: { family: 4, bytes: ip.bytes.slice(12) } };
  if (inRange(SIX_TO_FOUR, ip)) return { form: '6to4', v4: { family: 4, bytes: ip.bytes.slice(2, 6) } };
  return undefined;
}

function refusalReason(ip: IpAddress): string | undefined {
  const embedded = embeddedV4(ip);
  if (embedded) {
    const inner = refusalReason(embedded.v4);
    return inner === undefined ? undefined : `${embedded.form} ${inner}`;
  }
  if (ip.family === 4) return REFUSED_V4.find((r) => inRange(r, ip))?.[1];
  if (!inRange(GLOBAL_UNICAST_V6, ip)) {
    return REFUSED_V6_OUTSIDE_GLOBAL.find((r) => inRange(r, ip))?.[1] ?? 'reserved (not global unicast)';
  }
  return REFUSED_V6_GLOBAL.find((r) => inRange(r, ip))?.[1];
}

/**
 * Decides whether an upstream address may be connected to. An address in
 * `allowNetworks` always may (an IPv6 form embedding IPv4 is also matched by
 * its IPv4 address, so "127.0.0.0/8" covers ::ffff:127.0.0.1).
 */
export function checkAddress(address: string, allowNetworks: readonly Cidr[]): AddressVerdict {
  const ip = parseIp(address);
  if (!ip) return { allowed: false, reason: 'not a plain IP address' };
  const embedded = embeddedV4(ip);
  if (allowNetworks.some((c) => cidrContains(c, ip) || (embedded !== undefined && cidrContains(c, embedded.v4)))) {
    return { allowed: true };
  }
  const reason = refusalReason(ip);
  return reason === undefined ? { allowed: true } : { allowed: false, reason };
}
