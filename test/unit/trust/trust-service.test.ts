import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { compileConfig } from '../../../src/config/compile';
import { ManualClock } from '../../../src/lib/clock';
import { createLogger } from '../../../src/lib/logger';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { TrustService, type TrustDrop } from '../../../src/trust/trust-service';
import { tempDir } from '../../helpers/broker-harness';

const HOUR = 3_600_000;

/** The TrustService on a real SQLite store without an evidence log (the writeTrust path). */
describe('TrustService (real SQLite store, no evidence log)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let clock: ManualClock;
  let drops: TrustDrop[];
  let trust: TrustService;

  beforeEach(() => {
    tmp = tempDir();
    store = new SqliteStore({ path: path.join(tmp.dir, 'broker.db') });
    clock = new ManualClock();
    drops = [];
    const config = compileConfig(
      {
        listen: '127.0.0.1:0',
        tls: { ca: 'ca.pem', cert: 's.pem', key: 's.key' },
        state: { sqlite: 'broker.db' },
        evidence: { origin: 'x.example/sb', signing_key: 'e.key' },
        policies: 'policies/',
        trust: { decay: { per: '1h', points: 50 }, signals: { 'eval.failed': { weight: -150 }, 'eval.passed': { weight: 10 } } },
        agents: {
          a: { id: 'spiffe://x/agent/a', groups: [] },
          b: { id: 'spiffe://x/agent/b', groups: [], trust: { initial: 300, thresholds: { restricted: 250 } } },
        },
      },
      path.join(tmp.dir, 'config.yaml'),
    );
    trust = new TrustService({ config, store, clock, log: createLogger({ level: 'silent' }), onDrop: async (d) => (drops.push(d), 0) });
  });
  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  it('per-agent initial score and thresholds; an unscored agent is not fresh', async () => {
    assert.deepEqual(await trust.current('a'), { score: 600, tier: 'standard', fresh: false });
    assert.deepEqual(await trust.current('b'), { score: 300, tier: 'restricted', fresh: false });
  });

  it('only an operator confirms trust: a signal the broker raises moves the score but leaves it stale', async () => {
    const quiet = createLogger({ level: 'silent' });
    await trust.set('a', 800, 'start', 'operator:x', quiet);
    assert.equal((await trust.current('a')).fresh, true);
    clock.advance(25 * HOUR);
    await trust.set('b', 300, 'unrelated', 'operator:x', quiet);
    const stale = await trust.current('a');
    assert.equal(stale.fresh, false);
    // The agent misbehaves on purpose: the broker's own signal lowers the score, and must not make it fresh.
    const r = await trust.signal('a', { kind: 'broker.outside_template', detail: 'a call outside its template' }, 'broker', quiet, { fromBroker: true });
    assert.ok(r.after.score < stale.score);
    assert.equal(r.after.fresh, false);
    assert.equal((await trust.current('a')).fresh, false);
    // An operator's signal confirms it.
    assert.equal((await trust.signal('a', { kind: 'eval.passed', detail: 'reviewed' }, 'operator:x', quiet)).after.fresh, true);
  });

  it('a broker-raised signal that moves nothing (the score at 0) is not written; an operator\'s is', async () => {
    const quiet = createLogger({ level: 'silent' });
    await trust.set('a', 0, 'floor', 'operator:x', quiet);
    const rows = (await trust.history('a', 100)).length;
    for (let i = 0; i < 5; i++) {
      const r = await trust.signal('a', { kind: 'broker.outside_template', detail: 'again' }, 'broker', quiet, { fromBroker: true });
      assert.deepEqual([r.before.score, r.after.score, r.leasesRevoked], [0, 0, 0]);
    }
    assert.equal((await trust.history('a', 100)).length, rows, 'no history row for a change that changed nothing');
    await trust.signal('a', { kind: 'eval.failed', detail: 'checked' }, 'operator:x', quiet);
    assert.equal((await trust.history('a', 100)).length, rows + 1, 'an operator\'s signal is a confirmation, written even at 0');
  });

  it('concurrent signals all apply (each to the result of the one before), each with a history row', async () => {
    await Promise.all(Array.from({ length: 20 }, () => trust.signal('a', { kind: 'eval.passed', detail: 'ok' }, 'operator:x', createLogger({ level: 'silent' }))));
    assert.equal((await trust.current('a')).score, 800);
    assert.equal((await trust.history('a', 100)).length, 20);
    assert.equal(drops.length, 0, 'a rise re-decides nothing');
  });

  it('a drop calls onDrop with the trust after it; decay up toward the baseline never does', async () => {
    const r = await trust.signal('b', { kind: 'eval.failed', detail: 'bad' }, 'operator:x', createLogger({ level: 'silent' }));
    assert.deepEqual([r.before.score, r.after.score, r.after.tier], [300, 150, 'quarantined']);
    assert.equal(drops.length, 1);
    assert.deepEqual(drops[0]!.trust, { score: 150, tier: 'quarantined', fresh: true });
    clock.advance(2 * HOUR);
    // 150 -> 250 (baseline 300): restricted again; recorded once, and not a drop.
    // The view, and the stored record it was computed from (what a grant compares at its commit).
    assert.deepEqual(await trust.current('b'), { score: 250, tier: 'restricted', fresh: true, readFrom: { score: 150, updatedAt: clock.now() - 2 * HOUR } });
    await trust.current('b');
    const h = await trust.history('b', 10);
    assert.deepEqual(h.map((x) => [x.kind, x.oldScore, x.newScore]), [['decay', 150, 250], ['eval.failed', 300, 150]]);
    assert.equal(drops.length, 1);
  });

  it('a decay that lowers the tier is recorded once and re-decides the agent\'s leases (in the background)', async () => {
    await trust.set('a', 850, 'start', 'operator:x', createLogger({ level: 'silent' }));
    clock.advance(2 * HOUR);
    const reads = await Promise.all(Array.from({ length: 5 }, () => trust.current('a')));
    for (const r of reads) assert.deepEqual([r.score, r.tier], [750, 'standard']);
    await new Promise((r) => setImmediate(r));
    assert.equal(drops.length, 1, 'concurrent reads record the tier change once');
    assert.deepEqual(drops[0]!.trust, { score: 750, tier: 'standard', fresh: true });
    assert.deepEqual((await trust.history('a', 10)).map((x) => x.kind), ['decay', 'set']);
  });
});
