import { strict as assert } from 'node:assert';
import type { LeaseRecord } from '../../../src/leases/lease';
import { LeaseReaper } from '../../../src/leases/lease-reaper';
import { ManualClock } from '../../../src/lib/clock';
import { createLogger } from '../../../src/lib/logger';
import { lease } from '../../contract/store-contract';
import { LogCapture } from '../../helpers/broker-harness';

describe('LeaseReaper', () => {
  const log = createLogger({ level: 'debug', destination: new LogCapture() });

  it('records the leases of one expiry batch together (one evidence batch, not one fsync each), in expiry order', async () => {
    const due = Array.from({ length: 5 }, (_, i) => lease({ id: `l${i}` }));
    let served = false;
    const store = {
      expireDue: (): Promise<LeaseRecord[]> => {
        const out = served ? [] : due;
        served = true;
        return Promise.resolve(out);
      },
    };
    const started: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const reaper = new LeaseReaper({
      store,
      clock: new ManualClock(),
      log,
      onExpired: async (l) => {
        started.push(l.id);
        await gate;
      },
    });
    const tick = reaper.tick();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, ['l0', 'l1', 'l2', 'l3', 'l4'], 'every expiry of the batch is under way before the first one is durable');
    release();
    assert.equal(await tick, 5);
  });
});
