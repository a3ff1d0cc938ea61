import { strict as assert } from 'node:assert';
import { DenialFolder } from '../../../src/broker/denial-folder';
import { RECORDED_INPUTS_CAP, recordInputs } from '../../../src/broker/recorded-inputs';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../../../src/evidence/ledger/evidence-sink';
import { ManualClock } from '../../../src/lib/clock';
import { createLogger } from '../../../src/lib/logger';
import { LogCapture } from '../../helpers/broker-harness';

class RecordingSink implements EvidenceSink {
  readonly entries: EvidenceDraft[] = [];
  async append(drafts: readonly EvidenceDraft[]): Promise<EvidenceRef[]> {
    return drafts.map((d) => {
      this.entries.push(d);
      return { origin: 'test', index: this.entries.length - 1, leafHash: Buffer.alloc(32) };
    });
  }
}

describe('decision inputs in the evidence', () => {
  it('records the declared context, params, trust_fresh, budget used and the asked grant', () => {
    assert.deepEqual(recordInputs({ context: { amount: 500 }, params: { amount: 500, note: 'x' }, fresh: true, budgetUsed: 1200, grant: { ttlSeconds: 60, maxUses: 2 } }), {
      context: { amount: 500 },
      params: { amount: 500, note: 'x' },
      trust_fresh: true,
      budget_used: 1200,
      grant: { ttl_seconds: 60, max_uses: 2 },
    });
    assert.deepEqual(recordInputs({ context: {}, params: {}, fresh: false, grant: 'one-shot' }), { context: {}, params: {}, trust_fresh: false, grant: 'one-shot' });
  });

  it('caps them at 8 KiB: larger inputs are recorded as omitted, with their size', () => {
    const fits = recordInputs({ context: {}, params: { note: 'x'.repeat(RECORDED_INPUTS_CAP - 100) }, fresh: false });
    assert.ok('params' in fits);
    const over = recordInputs({ context: {}, params: { note: 'é'.repeat(RECORDED_INPUTS_CAP / 2) }, fresh: false });
    assert.equal((over as { omitted: string }).omitted, 'over_cap');
    assert.ok((over as { bytes: number }).bytes > RECORDED_INPUTS_CAP); // UTF-8 bytes, not UTF-16 units
  });

  it('a folded denial records them once: the closing entry leaves them to its first entry; a flood window says so', async () => {
    const sink = new RecordingSink();
    const clock = new ManualClock(0);
    const f = new DenialFolder({ sink, clock, log: createLogger({ destination: new LogCapture() }), windowMs: 60_000, bytesPerMinute: (a) => (a === 'noisy' ? 1 : 1e9) });
    const denial = (n: number): EvidenceDraft => ({ type: 'decision', agent: 'a1', action: 'x', resource: 'r', decision: { effect: 'deny' }, inputs: { context: { n }, params: {}, trust_fresh: false } });
    for (let i = 0; i < 5; i++) await f.record('a1', denial(1));
    // Different inputs are a different denial: not folded together.
    await f.record('a1', denial(2));
    // Over its budget: every further denial of "noisy" folds into one flood window.
    await f.record('noisy', { ...denial(1), agent: 'noisy' });
    await f.record('noisy', { ...denial(2), agent: 'noisy' });
    await f.record('noisy', { ...denial(3), agent: 'noisy' });
    clock.advance(60_000);
    await f.flushExpired();
    const closing = sink.entries.filter((e) => e['folded_count'] !== undefined);
    assert.equal(sink.entries[0]!['inputs'] !== undefined, true);
    const a1 = closing.find((e) => e['agent'] === 'a1')!;
    assert.equal(a1['folded_count'], 4);
    assert.equal(a1['first_index'], 0);
    assert.equal(a1['inputs'], undefined);
    const noisy = closing.find((e) => e['agent'] === 'noisy')!;
    assert.equal(noisy['flood'], true);
    assert.equal(noisy['inputs'], undefined);
  });
});
