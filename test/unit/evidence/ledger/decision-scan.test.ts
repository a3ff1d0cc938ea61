import { strict as assert } from 'node:assert';
import type { EvidenceDraft } from '../../../../src/evidence/ledger/evidence-sink';
import { newestDecisions, type DecisionScanSource } from '../../../../src/evidence/ledger/decision-scan';
import type { EntriesBeforeOptions } from '../../../../src/evidence/ledger/ledger-storage';
import { LedgerFixture } from './ledger-fixture';

/** Entry i: a decision for agent `bot-<i % 3>` at even i, a lease.issued at odd i. */
const N = 30;
const draft = (i: number): EvidenceDraft =>
  i % 2 === 0
    ? { type: 'decision', agent: `bot-${i % 3}`, action: 'tickets.update', resource: `ticket/T-${i}`, decision: { effect: 'allow', policies: ['p1'], policy_version: 'v1' } }
    : { type: 'lease.issued', agent: `bot-${i % 3}`, lease: { id: `lease_${i}` } };

describe('evidence/ledger: newestDecisions, the bounded newest-first scan', function () {
  this.timeout(60_000);
  let fx: LedgerFixture;
  /** The ledger, with every entriesBefore call's options noted. */
  let asked: EntriesBeforeOptions[];
  let source: DecisionScanSource;

  beforeEach(async () => {
    fx = new LedgerFixture();
    await fx.open();
    await fx.ledger.append(Array.from({ length: N }, (_, i) => draft(i)));
    asked = [];
    source = {
      get size() {
        return fx.ledger.size;
      },
      entriesBefore: (end, opts) => {
        asked.push({ ...opts });
        return fx.ledger.entriesBefore(end, opts);
      },
    };
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  const indexes = (s: { decisions: Array<{ index: number }> }): number[] => s.decisions.map((d) => d.index);

  it('reads decision entries only, newest first, down to the bound, and counts the bound as scanned', async () => {
    const all = await newestDecisions(source, { limit: 100, maxScan: 1000, pageSize: 4 });
    assert.deepEqual(indexes(all), [28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0]);
    assert.equal(all.scanned, N, 'a short log is read whole');
    assert.deepEqual(asked, [{ type: 'decision', minIndex: 0, pageSize: 4 }]);
    assert.ok(all.decisions.every((d) => d.type === 'decision' && d.resource === `ticket/T-${d.index}`));

    const bounded = await newestDecisions(source, { limit: 100, maxScan: 11, pageSize: 2 });
    assert.deepEqual(indexes(bounded), [28, 26, 24, 22, 20], 'entries 19 and older are past the newest 11');
    assert.equal(bounded.scanned, 11);
    assert.equal(asked[1]!.minIndex, 19);
  });

  it('stops at `limit` matches, counting as scanned the entries down to the last one returned', async () => {
    const bot0 = await newestDecisions(source, { limit: 3, maxScan: 1000, pageSize: 2, matches: (e) => e.agent === 'bot-0' });
    // Decisions of bot-0: even i divisible by 3: 24, 18, 12, 6, 0.
    assert.deepEqual(indexes(bot0), [24, 18, 12]);
    assert.equal(bot0.scanned, N - 12);
    const newest = await newestDecisions(source, { limit: 1, maxScan: 1000 });
    assert.deepEqual([indexes(newest), newest.scanned], [[28], 2]);
    const none = await newestDecisions(source, { limit: 5, maxScan: 20, matches: (e) => e.agent === 'nobody' });
    assert.deepEqual([indexes(none), none.scanned], [[], 20]);
  });

  it('reads nothing for a limit of 0 or an empty log, and pages of 500 by default', async () => {
    assert.deepEqual(await newestDecisions(source, { limit: 0, maxScan: 1000 }), { decisions: [], scanned: 0 });
    assert.equal(asked.length, 0, 'nothing read');
    await newestDecisions(source, { limit: 1, maxScan: 1000 });
    assert.equal(asked[0]!.pageSize, 500);
    const empty = new LedgerFixture();
    try {
      const ledger = await empty.open();
      assert.deepEqual(await newestDecisions(ledger, { limit: 50, maxScan: 20_000 }), { decisions: [], scanned: 0 });
    } finally {
      await empty.cleanup();
    }
  });
});
