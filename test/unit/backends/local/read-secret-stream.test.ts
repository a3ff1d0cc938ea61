import { strict as assert } from 'node:assert';
import { PassThrough, Readable } from 'node:stream';
import { inspect } from 'node:util';
import { readSecretFromStream } from '../../../../src/backends/local';
import { expectBrokerError } from './local-fixture';

const streamOf = (...chunks: Array<string | Buffer>): Readable => Readable.from(chunks, { objectMode: false });

describe('readSecretFromStream (stdin for `secrets put`)', () => {
  it('reads the whole stream across chunks', async () => {
    const v = await readSecretFromStream(streamOf('abc', 'def', Buffer.from('ghi')), 100);
    assert.equal(v.revealString(), 'abcdefghi');
    assert.equal(inspect(v), '[REDACTED]');
  });

  for (const [input, expected] of [
    ['token\n', 'token'],
    ['token\r\n', 'token'],
    ['token\n\n', 'token\n'],
    ['token', 'token'],
    ['  spaced  \n', '  spaced  '],
    ['line1\nline2\n', 'line1\nline2'],
    ['ends-with-cr\r', 'ends-with-cr\r'],
  ] as const) {
    it(`strips exactly one trailing newline: ${JSON.stringify(input)}`, async () => {
      assert.equal((await readSecretFromStream(streamOf(input), 100)).revealString(), expected);
    });
  }

  it('keeps binary bytes', async () => {
    const bin = [0, 255, 10, 0, 7];
    assert.deepEqual([...(await readSecretFromStream(streamOf(Buffer.from(bin)), 100)).reveal()], bin);
  });

  for (const input of ['', '\n', '\r\n']) {
    it(`rejects empty input ${JSON.stringify(input)}`, async () => {
      await expectBrokerError(readSecretFromStream(streamOf(input), 100), 'invalid_argument', /^value: the secret on stdin is empty/);
    });
  }

  it('accepts exactly maxBytes (plus the newline) and rejects one byte more', async () => {
    assert.equal((await readSecretFromStream(streamOf('x'.repeat(10)), 10)).length, 10);
    assert.equal((await readSecretFromStream(streamOf(`${'x'.repeat(10)}\r\n`), 10)).length, 10);
    const err = await expectBrokerError(readSecretFromStream(streamOf('x'.repeat(11)), 10), 'invalid_argument', /^value: the secret on stdin is longer than 10 bytes$/);
    assert.ok(!err.message.includes('xxxxxxxxxxx'));
  });

  it('stops reading an endless stream once it is over the limit', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 1024;
        this.push(Buffer.alloc(1024, 0x61));
      },
    });
    await expectBrokerError(readSecretFromStream(endless, 4096), 'invalid_argument', /longer than 4096 bytes/);
    assert.ok(produced < 64 * 1024, `read ${produced} bytes`);
  });

  it('zeroes the chunks it was given', async () => {
    const chunk = Buffer.from('wipe-me-please\n');
    const v = await readSecretFromStream(streamOf(chunk), 100);
    assert.equal(v.revealString(), 'wipe-me-please');
    assert.ok(chunk.equals(Buffer.alloc(chunk.length)), 'chunk not zeroed');
    const big = Buffer.from('y'.repeat(50));
    await expectBrokerError(readSecretFromStream(streamOf(big), 10), 'invalid_argument');
    assert.ok(big.equals(Buffer.alloc(50)), 'chunk not zeroed after rejection');
  });

  it('a stream error is unavailable with a fixed message', async () => {
    const s = new PassThrough();
    const p = readSecretFromStream(s, 100);
    s.write('partial-secret');
    s.destroy(new Error('EIO: boom'));
    const err = await expectBrokerError(p, 'unavailable', /^value: reading the secret from stdin failed$/);
    assert.ok(!err.message.includes('partial-secret'));
  });

  it('rejects a nonsensical maxBytes', async () => {
    await expectBrokerError(readSecretFromStream(streamOf('x'), 0), 'invalid_argument', /^maxBytes: /);
  });
});
