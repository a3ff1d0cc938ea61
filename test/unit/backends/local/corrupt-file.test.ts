import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { SecretValue } from '../../../../src/lib/secret-value';
import { expectBrokerError, makeFixture, readJson, type Fixture } from './local-fixture';

type Doc = Awaited<ReturnType<typeof readJson>>;

/** Each case breaks a valid file in one way; `detail` is what the error must say. */
const cases: Array<{ what: string; detail: RegExp; corrupt: (good: Buffer, doc: Doc) => Buffer | Doc }> = [
  { what: 'empty file', detail: /not valid UTF-8 JSON/, corrupt: () => Buffer.alloc(0) },
  { what: 'truncated JSON', detail: /not valid UTF-8 JSON/, corrupt: (good) => good.subarray(0, good.length >> 1) },
  { what: 'binary garbage', detail: /not valid UTF-8 JSON/, corrupt: () => Buffer.from([0xff, 0xfe, 0x00, 0x7b]) },
  { what: 'a JSON array', detail: /the document is not an object/, corrupt: () => Buffer.from('[]') },
  { what: 'another format', detail: /"format" is not/, corrupt: (_g, d) => ({ ...d, format: 'something-else' }) },
  { what: 'a future format version', detail: /"format_version" is not 1/, corrupt: (_g, d) => ({ ...d, format_version: 2 }) },
  { what: 'an unknown field', detail: /has unknown fields/, corrupt: (_g, d) => ({ ...d, extra: 1 }) },
  { what: 'a missing key_check', detail: /lacks "key_check"/, corrupt: (_g, { key_check: _k, ...rest }) => rest as Doc },
  {
    what: 'a gap in versions',
    detail: /secrets\["k"\]\[1\]\.version is not 2/,
    corrupt: (_g, d) => {
      d.secrets.k![1]!.version = 3;
      return d;
    },
  },
  {
    what: 'a short nonce',
    detail: /secrets\["k"\]\[0\]\.nonce is not 24 bytes/,
    corrupt: (_g, d) => {
      d.secrets.k![0]!.nonce = Buffer.alloc(12).toString('base64');
      return d;
    },
  },
  {
    what: 'non-canonical base64',
    detail: /ciphertext is not canonical base64/,
    corrupt: (_g, d) => {
      d.secrets.k![0]!.ciphertext = `${String(d.secrets.k![0]!.ciphertext)}!`;
      return d;
    },
  },
  {
    what: 'an invalid secret name',
    detail: /an invalid secret name/,
    corrupt: (_g, d) => {
      d.secrets['bad name'] = d.secrets.k!;
      return d;
    },
  },
  {
    what: 'an empty version list',
    detail: /secrets\["k"\] is not a non-empty array/,
    corrupt: (_g, d) => {
      d.secrets.k = [];
      return d;
    },
  },
];

describe('local backend: a corrupt sealed file is a clear error and is never rewritten', () => {
  let fx: Fixture;
  let good: Buffer;
  beforeEach(async () => {
    fx = await makeFixture();
    const b = await fx.open();
    await b.put('k', SecretValue.fromString('v1'));
    await b.put('k', SecretValue.fromString('v2'));
    await b.close();
    good = await fs.readFile(fx.path);
  });
  afterEach(() => fx.cleanup());

  for (const c of cases) {
    it(`${c.what}: open, get, list, put and health fail naming the path; the bytes stay as they were`, async () => {
      const out = c.corrupt(good, JSON.parse(good.toString('utf8')) as Doc);
      const bad = Buffer.isBuffer(out) ? out : Buffer.from(JSON.stringify(out));
      const message = new RegExp(`sealed file ${fx.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is corrupt \\(.*${c.detail.source}.*\\); it was left untouched`);

      // a backend opened while the file was fine, then the file broke under it
      const b = await fx.open();
      await fs.writeFile(fx.path, bad);
      await expectBrokerError(b.get('k'), 'internal', message);
      await expectBrokerError(b.list(), 'internal', message);
      await expectBrokerError(b.health(), 'internal', message);
      await expectBrokerError(b.put('k', SecretValue.fromString('v3')), 'internal', message);
      await expectBrokerError(b.put('new', SecretValue.fromString('n1')), 'internal', message);
      await expectBrokerError(fx.open(), 'internal', message);

      assert.ok((await fs.readFile(fx.path)).equals(bad), 'the corrupt file was modified');
      assert.deepEqual((await fs.readdir(`${fx.dir}/var`)).sort(), ['master.key', 'secrets.sealed'], 'temp or lock file left behind');
    });
  }

  it('after the file is restored, everything works again', async () => {
    await fs.writeFile(fx.path, '{');
    await expectBrokerError(fx.open(), 'internal', /is corrupt/);
    await fs.writeFile(fx.path, good);
    const b = await fx.open();
    assert.equal((await b.put('k', SecretValue.fromString('v3'))).version, 3);
    assert.equal((await b.get('k', { version: 1 })).value.revealString(), 'v1');
  });

  it('an unreadable sealed path (a directory) is unavailable, not corrupt', async () => {
    await fs.rm(fx.path);
    await fs.mkdir(fx.path);
    await expectBrokerError(fx.open(), 'unavailable', /cannot read .*secrets\.sealed \(EISDIR\)/);
  });
});
