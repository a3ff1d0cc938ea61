import { strict as assert } from 'node:assert';
import { DenialFolder } from '../../../src/broker/denial-folder';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../../../src/evidence/ledger/evidence-sink';
import { ManualClock } from '../../../src/lib/clock';
import { createLogger } from '../../../src/lib/logger';
import { LogCapture } from '../../helpers/broker-harness';

/** Records what was appended, in order, with consecutive indexes. */
class RecordingSink implements EvidenceSink {
  readonly entries: EvidenceDraft[] = [];
  async append(drafts: readonly EvidenceDraft[]): Promise<EvidenceRef[]> {
    return drafts.map((d) => {
      this.entries.push(d);
      return { origin: 'test', index: this.entries.length - 1, leafHash: Buffer.alloc(32) };
    });
  }
}

const denial = (resource: string): EvidenceDraft => ({ type: 'decision', agent: 'a1', action: 'x.y', resource, decision: { effect: 'deny', policies: [] } });

describe('DenialFolder', () => {
  const log = createLogger({ destination: new LogCapture() });

  it('writes the first denial, counts identical ones in the window, and closes the window with one entry', async () => {
    const sink = new RecordingSink();
    const clock = new ManualClock(0);
    const f = new DenialFolder({ sink, clock, log, windowMs: 60_000, bytesPerMinute: () => 1e9 });
    const refs = [];
    for (let i = 0; i < 100; i++) refs.push(await f.record('a1', denial('r')));
    assert.equal(sink.entries.length, 1);
    assert.ok(refs.every((r) => r.index === 0), 'every folded denial points at the window\'s first entry');
    clock.advance(60_000);
    await f.flushExpired();
    assert.equal(sink.entries.length, 2);
    assert.equal(sink.entries[1]!['folded_count'], 99);
    assert.equal(sink.entries[1]!['first_index'], 0);
  });

  it('identical denials that arrive while an ended window is being closed write one first entry for the new window', async () => {
    const sink = new RecordingSink();
    const clock = new ManualClock(0);
    const f = new DenialFolder({ sink, clock, log, windowMs: 60_000, bytesPerMinute: () => 1e9 });
    await f.record('a1', denial('r'));
    await f.record('a1', denial('r'));
    clock.advance(60_000);
    // The window has ended (not yet flushed): the first of these closes it; all five arrive together.
    const refs = await Promise.all(Array.from({ length: 5 }, () => f.record('a1', denial('r'))));
    assert.deepEqual(sink.entries.map((e) => e['folded_count'] ?? 'first'), ['first', 1, 'first'], 'the old window closed once, one first entry for the new one');
    assert.ok(refs.every((r) => r.index === 2), 'all five point at the new first entry');
    await f.stop();
    assert.equal(sink.entries.at(-1)!['folded_count'], 4, 'the four others are counted');
  });

  it('over its budget, an agent\'s approval-pending decisions fold apart from its denials: each closing entry counts one kind', async () => {
    const sink = new RecordingSink();
    const clock = new ManualClock(0);
    const f = new DenialFolder({ sink, clock, log, bytesPerMinute: () => 1 });
    const pending = (r: string): EvidenceDraft => ({ ...denial(r), decision: { effect: 'allow_with_obligations', policies: [] } });
    for (let i = 0; i < 4; i++) await f.record('a1', denial(`d-${i}`));
    for (let i = 0; i < 3; i++) await f.record('a1', pending(`p-${i}`), { denial: false });
    await f.stop();
    const closing = sink.entries.filter((e) => e['folded_count'] !== undefined).map((e) => [(e['decision'] as { effect: string }).effect, e['folded_count'], e['flood']]);
    assert.deepEqual(closing.sort(), [
      ['allow_with_obligations', 2, true],
      ['deny', 2, true],
    ]);
  });

  it('does not fold different denials, or the same denial for another agent', async () => {
    const sink = new RecordingSink();
    const f = new DenialFolder({ sink, clock: new ManualClock(0), log, bytesPerMinute: () => 1e9 });
    await f.record('a1', denial('r1'));
    await f.record('a1', denial('r2'));
    await f.record('a2', denial('r1'));
    assert.equal(sink.entries.length, 3);
    await f.stop();
    assert.equal(sink.entries.length, 3, 'nothing folded, nothing to close');
  });

  it('an agent over its evidence budget has every further denial folded into one flood window', async () => {
    const sink = new RecordingSink();
    const clock = new ManualClock(0);
    const f = new DenialFolder({ sink, clock, log, bytesPerMinute: (a) => (a === 'noisy' ? 1000 : 1e9) });
    for (let i = 0; i < 5000; i++) await f.record('noisy', { ...denial(`r-${i}`), agent: 'noisy' });
    const noisy = sink.entries.length;
    assert.ok(noisy < 20, `5000 distinct denials wrote ${noisy} entries`);
    await f.record('quiet', { ...denial('r'), agent: 'quiet' });
    assert.equal(sink.entries.length, noisy + 1, 'another agent is unaffected');
    await f.stop();
    const flood = sink.entries.filter((e) => e['flood'] === true);
    const folded = sink.entries.reduce((n, e) => n + Number(e['folded_count'] ?? 0), 0);
    assert.ok(flood.length >= 1);
    // Every denial is accounted for: written once, or counted in a closing entry.
    const written = sink.entries.filter((e) => e['agent'] === 'noisy' && e['folded_count'] === undefined).length;
    assert.equal(written + folded, 5000);
  });
});
