import { isIPv4, isIPv6 } from 'node:net';

/** An IP address as raw bytes: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
}

/** A network in CIDR form, with the host bits zero. */
export interface Cidr {
  readonly text: string;
  readonly network: IpAddress;
  readonly prefix: number;
}

/**
 * Parses a literal IPv4 or IPv6 address (brackets allowed around IPv6).
 * Zone ids ("fe80::1%eth0") are refused: a zone picks an interface, so the
 * same text could reach different hosts.
 */
export function parseIp(text: string): IpAddress | undefined {
  const t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(t)) return { family: 4, bytes: parseV4(t) };
  if (t.includes('%') || !isIPv6(t)) return undefined;
  return { family: 6, bytes: parseV6(t) };
}

function parseV4(t: string): Uint8Array {
  return Uint8Array.from(t.split('.').map((p) => Number(p)));
}

function parseV6(t: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = t;
  let tailV4: Uint8Array | undefined;
  const lastColon = t.lastIndexOf(':');
  if (t.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(t.slice(lastColon + 1));
    head = t.slice(0, lastColon + 1) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const groups = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const l = groups(left);
  const r = groups(right);
  const all = right === undefined ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tailV4) out.set(tailV4, 12);
  return out;
}

export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i]! << 8) | ip.bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** Parses "a.b.c.d/n" or "x::/n"; a bare address means a single host. Returns a problem string on failure. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return 'expected a CIDR such as "127.0.0.0/8"';
  const max = ip.family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > max) return `expected a prefix length between 0 and ${max}`;
  const prefix = Number(prefixText);
  if (!equalPrefix(ip.bytes, mask(ip.bytes, prefix), ip.bytes.length * 8)) {
    // Host bits set ("127.0.0.1/8") usually means a typo; refusing beats guessing.
    return `has host bits set; did you mean ${formatIp({ family: ip.family, bytes: mask(ip.bytes, prefix) })}/${prefix}?`;
  }
  return Object.freeze({ text, network: ip, prefix });
}

function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function equalPrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const ma = mask(a, prefix);
  const mb = mask(b, prefix);
  return ma.every((v, i) => v === mb[i]);
}

export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return cidr.network.family === ip.family && equalPrefix(cidr.network.bytes, ip.bytes, cidr.prefix);
}
