import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { LateEvidence } from '../../../src/broker/late-evidence';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../../../src/evidence/ledger/evidence-sink';
import { systemClock } from '../../../src/lib/clock';
import { BrokerError } from '../../../src/lib/errors';
import { createLogger } from '../../../src/lib/logger';

/** A sink that refuses while `refusing`, and whose appends can be held until released. */
class Sink implements EvidenceSink {
  refusing = true;
  hold: Promise<void> | undefined;
  readonly recorded: EvidenceDraft[] = [];
  calls = 0;
  async append(drafts: readonly EvidenceDraft[]): Promise<EvidenceRef[]> {
    this.calls++;
    const refusing = this.refusing;
    await this.hold;
    if (refusing) throw new BrokerError('unavailable', 'the evidence log is unavailable');
    this.recorded.push(...drafts);
    return drafts.map((_, i) => ({ origin: 'test', index: this.recorded.length - drafts.length + i, leafHash: Buffer.alloc(32) }));
  }
}

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: dest }), lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const draft = (id: string): EvidenceDraft => ({ type: 'lease.revoked', lease: { id } });

describe('LateEvidence at shutdown', () => {
  it('drain waits for a retry under way that the log refuses again, then records what it put back, once', async () => {
    const sink = new Sink();
    const { log } = capture();
    const late = new LateEvidence({ sink, clock: systemClock }, 'lease end', 'the lease ended but its entry is missing');
    await late.appendOrKeep(draft('a'), log, {}, 'refused');
    assert.equal(late.size, 1);
    // The first retry (after 200 ms) starts and is held mid-append; it will be refused.
    let release!: () => void;
    sink.hold = new Promise<void>((r) => (release = r));
    for (let waited = 0; sink.calls < 2 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sink.calls, 2, 'the retry is under way');
    const drained = late.drain(log);
    sink.refusing = false; // the log takes writes again, but the held retry was refused before that
    sink.hold = undefined;
    release();
    await drained;
    assert.deepEqual(
      sink.recorded.map((d) => (d['lease'] as { id: string }).id),
      ['a'],
    );
    assert.equal(sink.recorded[0]!['recorded_late'], true);
    assert.equal(late.size, 0);
    // No timer is left to append it a second time.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sink.recorded.length, 1);
  });

  it('what arrives after the drain is not kept for a retry that would never run: it is named in an error line', async () => {
    const sink = new Sink();
    const { log, lines } = capture();
    const late = new LateEvidence({ sink, clock: systemClock }, 'lease end', 'the lease ended but its entry is missing');
    await late.drain(log);
    await late.appendOrKeep(draft('b'), log, {}, 'refused');
    assert.equal(late.size, 0);
    const line = lines().find((l) => l['level'] === 50 && String(l['msg']).includes('while stopping'));
    assert.ok(line, 'an error line');
    assert.equal((line['lease'] as { id: string }).id, 'b');
    assert.match(String(line['msg']), /the lease ended but its entry is missing/);
  });
});
