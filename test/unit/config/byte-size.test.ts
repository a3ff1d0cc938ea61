import { strict as assert } from 'node:assert';
import { parseByteSize } from '../../../src/config/byte-size';

describe('parseByteSize (server.buffered_response_bytes, policy.cache_bytes)', () => {
  it('reads integers and binary units, one space allowed', () => {
    for (const [v, want] of [
      [0, 0],
      [65536, 65536],
      ['0', 0],
      ['512', 512],
      ['512B', 512],
      ['64KiB', 65536],
      ['64 KiB', 65536],
      ['256MiB', 256 * 1024 ** 2],
      ['1GiB', 1024 ** 3],
    ] as const) {
      assert.equal(parseByteSize(v), want, String(v));
    }
  });

  it('refuses anything else, and sizes past 2^53', () => {
    for (const v of [-1, 1.5, NaN, '', ' 1', '1  KiB', '01', '16MB', '16 mib', '1e3', '1TiB', '9999999999999999GiB', true, null, {}]) {
      assert.equal(parseByteSize(v), undefined, String(v));
    }
  });
});
