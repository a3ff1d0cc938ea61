import { strict as assert } from 'node:assert';
import Database from 'better-sqlite3';
import type { EvidenceDraft } from '../../../../src/evidence/ledger/evidence-sink';
import type { EntriesBeforeOptions, StoredEntry } from '../../../../src/evidence/ledger/ledger-storage';
import { SqliteLedgerReadStorage } from '../../../../src/evidence/ledger/sqlite-ledger-storage';
import { hashLeaf } from '../../../../src/evidence/merkle';
import { BrokerError } from '../../../../src/lib/errors';
import { LedgerFixture, decision } from './ledger-fixture';

/** Entry i of the test log: a decision, a lease.issued, a heartbeat, a decision, ... */
const N = 23;
const typeOf = (i: number): string => ['decision', 'lease.issued', 'heartbeat'][i % 3]!;
const draft = (i: number): EvidenceDraft => (typeOf(i) === 'decision' ? decision(i) : typeOf(i) === 'lease.issued' ? { type: 'lease.issued', lease: { id: `lease_${i}` } } : { type: 'heartbeat' });

/** What a newest-first read of [min, end) must give: the indexes, newest first, of `type` if given. */
const expected = (end: number, min = 0, type?: string): number[] => {
  const out: number[] = [];
  for (let i = Math.min(end, N) - 1; i >= min; i--) if (type === undefined || typeOf(i) === type) out.push(i);
  return out;
};

async function collect(it: AsyncIterable<StoredEntry>): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('evidence/ledger: entriesBefore, the newest-first paged reader', function () {
  this.timeout(60_000);
  let fx: LedgerFixture;
  let storage: SqliteLedgerReadStorage;
  const read = async (end: number, opts?: EntriesBeforeOptions): Promise<number[]> => (await collect(storage.entriesBefore(end, opts))).map((e) => e.index);

  beforeEach(async () => {
    fx = new LedgerFixture();
    await fx.open();
    storage = new SqliteLedgerReadStorage(fx.store.db);
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('reads nothing from an empty log, whatever the bounds or type', async () => {
    assert.deepEqual(await read(0), []);
    assert.deepEqual(await read(10, { type: 'decision', pageSize: 1 }), []);
    assert.deepEqual(await collect(fx.ledger.entriesBefore(10)), []);
  });

  describe('over a log of 23 entries of three types', () => {
    beforeEach(async () => {
      await fx.ledger.append(Array.from({ length: N }, (_, i) => draft(i)));
    });

    it('gives every entry newest first, as stored: its index, type, time, exact bytes and leaf hash', async () => {
      const all = await collect(storage.entriesBefore(N));
      assert.deepEqual(all.map((e) => e.index), expected(N));
      for (const e of all) {
        const stored = (await storage.getEntry(e.index))!;
        assert.deepEqual(e, stored);
        assert.equal(e.type, typeOf(e.index));
        assert.ok(hashLeaf(e.bytes).equals(e.leafHash));
      }
    });

    it('gives only the entries of the type asked for, newest first; an unknown type gives none', async () => {
      for (const type of ['decision', 'lease.issued', 'heartbeat']) {
        const got = await collect(storage.entriesBefore(N, { type }));
        assert.deepEqual(got.map((e) => e.index), expected(N, 0, type), type);
        assert.ok(got.every((e) => e.type === type && (JSON.parse(e.bytes.toString('utf8')) as { type: string }).type === type));
      }
      assert.deepEqual(await read(N, { type: 'invoke.result' }), []);
    });

    it('keeps to minIndex <= index < end: a range inside the log, an end past it, an empty range', async () => {
      assert.deepEqual(await read(17, { minIndex: 5 }), expected(17, 5));
      assert.deepEqual(await read(17, { minIndex: 5, type: 'decision' }), expected(17, 5, 'decision'));
      assert.deepEqual(await read(N + 100, { minIndex: N - 2 }), [N - 1, N - 2], 'an end past the stored log reads what is stored');
      assert.deepEqual(await read(1), [0]);
      assert.deepEqual(await read(9, { minIndex: 9 }), []);
      assert.deepEqual(await read(5, { minIndex: 9 }), []);
    });

    it('gives the same entries at every page size: pages of 1, sizes that divide the count and sizes that do not', async () => {
      for (const pageSize of [1, 2, 3, 4, 7, 8, 22, 23, 24, 512]) {
        assert.deepEqual(await read(N, { pageSize }), expected(N), `page ${pageSize}`);
        // With a type, a page holds that many entries of the type (8 decisions in the log; 6 from index 4).
        assert.deepEqual(await read(N, { pageSize, type: 'decision' }), expected(N, 0, 'decision'), `page ${pageSize}, decisions`);
        assert.deepEqual(await read(20, { pageSize, type: 'decision', minIndex: 4 }), expected(20, 4, 'decision'), `page ${pageSize}, decisions in [4, 20)`);
      }
    });

    it('runs one query per page, and lets the event loop run between pages, not within one', async () => {
      // A second connection that counts the statements it runs.
      let queries = 0;
      const db = new Database(fx.file, { readonly: true, verbose: () => void queries++ });
      const counted = new SqliteLedgerReadStorage(db);
      const readCounting = async (opts: EntriesBeforeOptions): Promise<{ entries: number; queries: number; turns: number[] }> => {
        // Where in the read each event-loop turn came (a setImmediate callback ran).
        const turns: number[] = [];
        let seen = 0;
        let on = true;
        const tick = (): void => {
          if (!on) return;
          turns.push(seen);
          setImmediate(tick);
        };
        setImmediate(tick);
        queries = 0;
        for await (const _ of counted.entriesBefore(N, opts)) seen++;
        on = false;
        return { entries: seen, queries, turns };
      };
      try {
        assert.deepEqual(await readCounting({ pageSize: N + 1 }), { entries: N, queries: 1, turns: [] }, 'one page: one query, in one turn');
        // 8 decisions: pages of 5 and 3, a turn between them; a full last page that reaches minIndex asks no more.
        assert.deepEqual(await readCounting({ pageSize: 5, type: 'decision' }), { entries: 8, queries: 2, turns: [5] });
        assert.deepEqual(await readCounting({ pageSize: 8, type: 'decision' }), { entries: 8, queries: 1, turns: [] });
        assert.deepEqual(await readCounting({ pageSize: 3, type: 'decision', minIndex: 1 }), { entries: 7, queries: 3, turns: [3, 6] });
        const singles = await readCounting({ pageSize: 1 });
        assert.deepEqual([singles.entries, singles.queries], [N, N]);
        assert.deepEqual(singles.turns, Array.from({ length: N - 1 }, (_, i) => i + 1), 'a turn between every two pages of one');
      } finally {
        db.close();
      }
    });

    it('through the Ledger: only durable entries, even when the table holds more', async () => {
      // A row the ledger never acknowledged (as if written by a transaction still waiting for its fsync).
      const bytes = Buffer.from('{"type":"decision"}');
      // The table's CHECK: one 32-byte hash per trailing 1 bit of the index (entry 23 completes three subtrees).
      const subtrees = Buffer.alloc(32 * 3);
      fx.store.db.prepare('INSERT INTO evidence_entries (idx, type, time_ms, bytes, leaf_hash, subtrees) VALUES (?, ?, ?, ?, ?, ?)').run(N, 'decision', 0, bytes, hashLeaf(bytes), subtrees);
      assert.deepEqual(await read(N + 1, { type: 'decision' }), [N, ...expected(N, 0, 'decision')], 'the storage reads the row');
      assert.equal(fx.ledger.size, N);
      assert.deepEqual((await collect(fx.ledger.entriesBefore(N + 1, { type: 'decision' }))).map((e) => e.index), expected(N, 0, 'decision'));
      assert.deepEqual((await collect(fx.ledger.entriesBefore(N - 3, { pageSize: 2 }))).map((e) => e.index), expected(N - 3));
    });

    it('refuses bounds that are not whole numbers, and a page of no entries', async () => {
      const refusal = async (p: Promise<unknown>): Promise<string> => {
        const err = await p.then(
          () => assert.fail('expected a rejection'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof BrokerError && err.kind === 'invalid_argument', String(err));
        return err.message;
      };
      assert.equal(await refusal(read(N, { pageSize: 0 })), 'evidence entries before: pageSize must be a whole number from 1, not 0');
      assert.equal(await refusal(read(-1)), 'evidence entries before: end must be a whole number from 0, not -1');
      assert.equal(await refusal(read(N, { minIndex: 1.5 })), 'evidence entries before: minIndex must be a whole number from 0, not 1.5');
      assert.match(await refusal(collect(fx.ledger.entriesBefore(-1))), /^end: must be a whole number from 0/);
    });
  });
});
