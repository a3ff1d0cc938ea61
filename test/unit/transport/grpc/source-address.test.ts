import { strict as assert } from 'node:assert';
import { sourceAddress } from '../../../../src/transport/grpc/source-address';

describe('transport/grpc/source-address: the source a connection counts under for handshake room', () => {
  it('an IPv4 address is its own source', () => {
    assert.equal(sourceAddress('127.0.0.2'), '127.0.0.2');
    assert.equal(sourceAddress('203.0.113.7'), '203.0.113.7');
    assert.notEqual(sourceAddress('203.0.113.7'), sourceAddress('203.0.113.8'));
  });

  it('an IPv4-mapped IPv6 address counts as the IPv4 address, in any spelling', () => {
    for (const a of ['::ffff:203.0.113.7', '::FFFF:203.0.113.7', '::ffff:cb00:7107', '0:0:0:0:0:ffff:203.0.113.7']) assert.equal(sourceAddress(a), '203.0.113.7', a);
    assert.equal(sourceAddress('::ffff:127.0.0.1'), sourceAddress('127.0.0.1'));
  });

  it('an IPv6 address counts by its /64 prefix', () => {
    const a = sourceAddress('2001:db8:1:2:aaaa::1');
    assert.equal(a, '2001:db8:1:2::/64');
    // Every address of one /64, however written, is one source...
    for (const same of ['2001:db8:1:2::2', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:DB8:1:2:0:0:0:9', '2001:db8:1:2::1.2.3.4', '2001:db8:1:2::1%eth0']) assert.equal(sourceAddress(same), a, same);
    // ...and the next /64 is another.
    assert.equal(sourceAddress('2001:db8:1:3::1'), '2001:db8:1:3::/64');
    assert.equal(sourceAddress('::1'), '0:0:0:0::/64');
    assert.equal(sourceAddress('2001:db8::1'), '2001:db8:0:0::/64');
    // Not mapped: ffff in another group, or a zero group where ffff belongs.
    assert.equal(sourceAddress('::fffe:203.0.113.7'), '0:0:0:0::/64');
    assert.equal(sourceAddress('ffff::203.0.113.7'), 'ffff:0:0:0::/64');
  });

  it('a socket with no address (already gone) counts under the empty source', () => {
    assert.equal(sourceAddress(undefined), '');
  });
});
