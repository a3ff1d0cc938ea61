import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { CredentialHandle } from '../../../src/backends/backend';
import { CredentialSweeper } from '../../../src/broker/credential-sweeper';
import { ManualClock } from '../../../src/lib/clock';
import { createLogger } from '../../../src/lib/logger';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { LogCapture, tempDir } from '../../helpers/broker-harness';
import { faultSource, PlanningFaultBackend } from '../../helpers/fault-credential-backend';

const T0 = 10_000_000;

/** A grant records its credential and creates it upstream while the sweeper is between steps. */
class RacingBackend extends PlanningFaultBackend {
  duringList: (() => Promise<void>) | undefined;

  override async listIssued(): Promise<CredentialHandle[]> {
    const hook = this.duringList;
    this.duringList = undefined;
    await hook?.();
    return super.listIssued();
  }
}

describe('CredentialSweeper', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let clock: ManualClock;
  let backend: RacingBackend;
  let sweeper: CredentialSweeper;
  const logs = new LogCapture();

  beforeEach(async () => {
    tmp = tempDir('sb-sweeper-');
    store = new SqliteStore({ path: path.join(tmp.dir, 'b.db') });
    clock = new ManualClock(T0);
    backend = new RacingBackend('pg', clock);
    sweeper = new CredentialSweeper({ store, source: faultSource(backend), backends: ['pg'], clock, log: createLogger({ level: 'debug', destination: logs }), graceMs: 60_000, intervalMs: 3_600_000 });
    await sweeper.start();
    await sweeper.sweep();
  });
  afterEach(async () => {
    await sweeper.stop();
    await store.close();
    tmp.cleanup();
  });

  it('never takes a grant that recorded and created its credential during the sweep for an unrecorded one', async () => {
    let planned: CredentialHandle | undefined;
    backend.duringList = async () => {
      // The grant's steps, in order: record as pending (durable), then create upstream.
      const binding = { leaseId: 'L1', agent: 'a', action: 'x', resource: 'r', expiresAt: T0 + 300_000, maxExpiresAt: T0 + 900_000 };
      planned = backend.plan({ role: 'r', connection: { host: 'h', port: 1, database: 'd' } }, binding);
      await store.insertPendingCredential({ handle: planned, leaseId: 'L1', createdAt: clock.now() });
      await backend.create({ role: 'r', connection: { host: 'h', port: 1, database: 'd' } }, binding, planned);
    };
    const [r] = await sweeper.sweep();
    assert.deepEqual(r!.revoked, []);
    assert.deepEqual(backend.live(), [planned!.id], 'the in-flight grant keeps its credential');
    assert.equal((await store.listPendingCredentials('pg', 10)).length, 1);
  });

  it('a sweep that fails (backend down) resolves, logs, and the next one works', async () => {
    const stray = backend.mintOutside();
    backend.failListIssued = 1;
    assert.deepEqual(await sweeper.sweep(), []);
    assert.match(logs.text, /credential sweep failed/);
    assert.doesNotMatch(logs.text, /pw-outside/);
    const [r] = await sweeper.sweep();
    assert.deepEqual(r!.revoked, [stray]);
  });

  it('without plan a backend is not swept (its in-flight credentials are not recorded before they exist)', async () => {
    const noPlan = new RacingBackend('pg', clock);
    Object.defineProperty(noPlan, 'plan', { value: undefined });
    const s = new CredentialSweeper({ store, source: faultSource(noPlan), backends: ['pg'], clock, log: createLogger({ level: 'silent' }) });
    noPlan.mintOutside();
    assert.deepEqual(await s.sweep(), []);
    assert.equal(noPlan.batchCalls.listIssued, 0);
  });
});
