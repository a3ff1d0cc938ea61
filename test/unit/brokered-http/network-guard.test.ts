import { strict as assert } from 'node:assert';
import { formatIp, parseCidr, parseIp, type Cidr } from '../../../src/brokered-http/ip-address';
import { checkAddress } from '../../../src/brokered-http/network-guard';

const cidrs = (...list: string[]): Cidr[] =>
  list.map((c) => {
    const r = parseCidr(c);
    assert.ok(typeof r !== 'string', r as string);
    return r;
  });

describe('brokered-http outbound address guard', () => {
  it('parses IPv4 and IPv6 forms, refusing zone ids', () => {
    assert.equal(formatIp(parseIp('::ffff:127.0.0.1')!), '0:0:0:0:0:ffff:7f00:1');
    assert.equal(formatIp(parseIp('[2001:db8::1]')!), '2001:db8:0:0:0:0:0:1');
    assert.equal(parseIp('fe80::1%eth0'), undefined);
    assert.equal(parseIp('127.1'), undefined);
    assert.equal(parseIp('0x7f.0.0.1'), undefined);
    assert.equal(parseIp('upstream.test'), undefined);
  });

  it('parses CIDRs strictly', () => {
    assert.equal(typeof parseCidr('127.0.0.0/8'), 'object');
    assert.equal(typeof parseCidr('10.1.2.3'), 'object');
    assert.match(parseCidr('127.0.0.1/8') as string, /host bits/);
    assert.match(parseCidr('10.0.0.0/33') as string, /prefix length/);
    assert.match(parseCidr('10.0.0.0/08') as string, /prefix length/);
    assert.match(parseCidr('nope/8') as string, /CIDR/);
  });

  const refused: Array<[string, RegExp]> = [
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['10.0.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /link-local \(cloud metadata\)/],
    ['100.64.0.1', /CGNAT/],
    ['0.0.0.0', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['255.255.255.255', /reserved/],
    ['192.0.0.192', /IETF/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['fc00::1', /unique local/],
    ['fd00:ec2::254', /unique local/],
    ['fe80::1', /link-local/],
    ['ff02::1', /multicast/],
    ['::ffff:127.0.0.1', /IPv4-mapped loopback/],
    ['::ffff:7f00:1', /IPv4-mapped loopback/],
    ['::ffff:169.254.169.254', /IPv4-mapped link-local/],
    ['64:ff9b::a9fe:a9fe', /NAT64 link-local/],
    ['2002:7f00:1::', /6to4 loopback/],
    ['::127.0.0.1', /not global unicast/],
    ['2001:db8::1', /documentation/],
    ['not-an-ip', /not a plain IP/],
  ];
  for (const [address, why] of refused) {
    it(`refuses ${address}`, () => {
      const v = checkAddress(address, []);
      assert.equal(v.allowed, false);
      assert.match((v as { reason: string }).reason, why);
    });
  }

  it('allows public addresses', () => {
    for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808']) {
      assert.deepEqual(checkAddress(a, []), { allowed: true }, a);
    }
  });

  it('lets allow_networks open exactly the listed ranges, IPv4-mapped forms included', () => {
    const allow = cidrs('127.0.0.0/8', 'fd00::/8');
    assert.equal(checkAddress('127.0.0.1', allow).allowed, true);
    assert.equal(checkAddress('::ffff:127.0.0.1', allow).allowed, true);
    assert.equal(checkAddress('fd12::1', allow).allowed, true);
    assert.equal(checkAddress('169.254.169.254', allow).allowed, false);
    assert.equal(checkAddress('10.0.0.1', allow).allowed, false);
    assert.equal(checkAddress('::1', allow).allowed, false);
  });
});
