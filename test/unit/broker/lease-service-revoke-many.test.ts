import { strict as assert } from 'node:assert';
import { LeaseService } from '../../../src/broker/lease-service';
import type { LeaseRecord } from '../../../src/leases/lease';
import { ManualClock } from '../../../src/lib/clock';
import { IdSource } from '../../../src/lib/ids';
import { createLogger } from '../../../src/lib/logger';
import type { Store } from '../../../src/store/store';
import { lease } from '../../contract/store-contract';
import { LogCapture } from '../../helpers/broker-harness';

describe('LeaseService.revokeMany', () => {
  const log = createLogger({ level: 'debug', destination: new LogCapture() });

  it('ends every selected lease at once (one store batch), not one commit after another, and returns them in order', async () => {
    const targets = Array.from({ length: 5 }, (_, i) => lease({ id: `l${i}`, agent: 'support-bot' }));
    const ending: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const store = {
      kind: 'sqlite',
      listLeases: () => Promise.resolve(targets),
      endLease: async (id: string, status: 'revoked', reason: string, now: number): Promise<LeaseRecord | undefined> => {
        ending.push(id);
        await gate;
        return { ...targets.find((t) => t.id === id)!, status, revokeReason: reason, updatedAt: now };
      },
    } as unknown as Store;
    const leases = new LeaseService({ config: { actions: {}, agents: {} }, store, policy: () => assert.fail('no decision'), clock: new ManualClock(), ids: new IdSource() });
    const out = leases.revokeMany({ agent: 'support-bot' }, 'incident', 'alice', log);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(ending, ['l0', 'l1', 'l2', 'l3', 'l4'], 'every lease is being ended before the first commit is back');
    release();
    assert.deepEqual((await out).map((l) => [l.id, l.status]), targets.map((t) => [t.id, 'revoked']));
  });
});
