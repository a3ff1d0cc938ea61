import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../src/lib/durable-files';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'sb-atomic-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('replaces the file with a 0600 one and leaves no temp file', async () => {
    const p = join(dir, 'f');
    await fs.writeFile(p, 'old', { mode: 0o644 });
    await writeFileAtomic(p, Buffer.from('new'));
    assert.equal(await fs.readFile(p, 'utf8'), 'new');
    assert.equal((await fs.stat(p)).mode & 0o777, 0o600);
    assert.deepEqual(await fs.readdir(dir), ['f']);
  });

  it('a veto from beforeCommit keeps the old file and removes the temp file', async () => {
    const p = join(dir, 'f');
    await fs.writeFile(p, 'old');
    await assert.rejects(
      writeFileAtomic(p, Buffer.from('new'), {
        beforeCommit: async () => {
          throw new Error('lock lost');
        },
      }),
      /lock lost/,
    );
    assert.equal(await fs.readFile(p, 'utf8'), 'old');
    assert.deepEqual(await fs.readdir(dir), ['f']);
  });

  it('readers racing a writer always see a whole file', async () => {
    const p = join(dir, 'f');
    const body = (i: number): string => JSON.stringify({ i, pad: 'x'.repeat(20_000) });
    await writeFileAtomic(p, Buffer.from(body(0)));
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        JSON.parse(await fs.readFile(p, 'utf8'));
        reads++;
      }
    })();
    for (let i = 1; i <= 30; i++) await writeFileAtomic(p, Buffer.from(body(i)));
    writing = false;
    await reader;
    assert.ok(reads > 0);
    assert.equal(JSON.parse(await fs.readFile(p, 'utf8')).i, 30);
  });
});
