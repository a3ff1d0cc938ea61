import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { compileConfig } from '../../src/config/compile';
import type { EvidenceDraft } from '../../src/evidence/ledger/evidence-sink';
import type { Ledger } from '../../src/evidence/ledger/ledger';
import { openEvidence } from '../../src/evidence/ledger/wire';
import { systemClock } from '../../src/lib/clock';
import { createLogger } from '../../src/lib/logger';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { readEntries } from '../helpers/evidence-entries';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type TestPki } from '../helpers/broker-harness';
import { writeV4Database } from '../helpers/v4-database';

/*
 * invoke.unknown at start-up, in process: the open-intents index is built
 * by schema migration 5 from a log written before it existed, kept by the
 * database afterwards, and each start settles exactly the intents left open,
 * once, before serving.
 */

interface Entry {
  type: string;
  index: number;
  agent?: string;
  action?: string;
  lease?: { id: string; use?: number };
  intent?: { index: number };
}

const intent = (id: string, use: number): EvidenceDraft => ({
  type: 'invoke.intent',
  agent: 'support-bot',
  action: 'tickets.update',
  resource: 'ticket/T-1',
  lease: { id, use, expires_at: '2030-01-01T00:00:00.000Z' },
  request: { method: 'GET', path_template: '/tickets/{id}', digest: 'sha256:00' },
  idempotency_key: `${id}-${use}`,
});
const result = (id: string, use: number): EvidenceDraft => ({ type: 'invoke.result', agent: 'support-bot', action: 'tickets.update', lease: { id, use }, outcome: 'ok', status_code: 200 });

const readAll = (ledger: Ledger): Promise<Entry[]> => readEntries<Entry>(ledger);

describe('crash recovery: invoke.unknown for intents left open', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let raw: Record<string, unknown>;

  before(async () => {
    tmp = tempDir('sb-crash-recovery-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    raw = baseRawConfig(pki, tmp.dir);
  });
  after(() => tmp?.cleanup());

  it('a log written before the index existed is indexed by migration 5; only the open intents get invoke.unknown', async () => {
    // A log as an older broker wrote it: a version-4 database with no open-intents index.
    const config = compileConfig(raw, path.join(tmp.dir, 'config.yaml'));
    const current = path.join(tmp.dir, 'written-now.db');
    const store = new SqliteStore({ path: current });
    const ledger = await openEvidence({ config, store, clock: systemClock, log: createLogger({ level: 'silent' }) });
    await ledger.append([intent('lease-a', 1), intent('lease-b', 1), intent('lease-a', 2)]);
    await ledger.append([result('lease-a', 1)]);
    await ledger.append([{ type: 'invoke.unknown', lease: { id: 'lease-a', use: 2 } }]);
    await ledger.append([intent('lease-c', 3)]);
    await ledger.close();
    await store.close();
    writeV4Database(current, (config.state as { path: string }).path, { openIntents: false });

    const broker = await startBroker({ pki, dir: tmp.dir, raw });
    try {
      const entries = await readAll(broker.app.ledger!);
      const unknown = entries.filter((e) => e.type === 'invoke.unknown' && e.index > 5);
      assert.deepEqual(
        unknown.map((e) => [e.lease?.id, e.lease?.use, e.intent?.index, e.agent, e.action]),
        [
          ['lease-b', 1, 1, 'support-bot', 'tickets.update'],
          ['lease-c', 3, 5, 'support-bot', 'tickets.update'],
        ],
      );
      assert.match(broker.logs.text, /recorded invoke\.unknown/);
    } finally {
      await broker.close();
    }
  });

  it('afterwards the database keeps the index: an intent left open by the last run is settled at the next start, once', async () => {
    let broker = await startBroker({ pki, dir: tmp.dir, raw });
    let sizeBefore: number;
    try {
      // As a call in flight when the daemon stopped leaves it: its intent, no result.
      const [ref] = await broker.app.ledger!.append([intent('lease-d', 1)]);
      await broker.app.ledger!.append([intent('lease-e', 1)]);
      await broker.app.ledger!.append([result('lease-e', 1)]);
      sizeBefore = broker.app.ledger!.size;
      assert.ok(ref);
    } finally {
      await broker.close();
    }
    broker = await startBroker({ pki, dir: tmp.dir, raw });
    try {
      const entries = await readAll(broker.app.ledger!);
      const fresh = entries.slice(sizeBefore);
      assert.deepEqual(
        fresh.filter((e) => e.type === 'invoke.unknown').map((e) => [e.lease?.id, e.lease?.use]),
        [['lease-d', 1]],
      );
    } finally {
      await broker.close();
    }
    broker = await startBroker({ pki, dir: tmp.dir, raw });
    try {
      const entries = await readAll(broker.app.ledger!);
      const unknowns = entries.filter((e) => e.type === 'invoke.unknown');
      assert.equal(unknowns.filter((e) => e.lease?.id === 'lease-d').length, 1, 'settled once, not again at the next start');
      assert.doesNotMatch(broker.logs.text, /recorded invoke\.unknown/);
    } finally {
      await broker.close();
    }
  });
});
