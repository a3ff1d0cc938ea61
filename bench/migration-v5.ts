/**
 * Schema migration 5 at scale: it moves every interior Merkle node of the
 * evidence log from evidence_nodes into the entry row that completes it
 * (store/sqlite/migrations.ts). The bench writes a log of --entries entries
 * through the Ledger, rewrites it as a version-4 database (entries plus
 * evidence_nodes, as the broker stored them before), then times opening that
 * database with SqliteStore (which migrates) and then Ledger.open (which
 * checks the migrated tree against the signed checkpoint).
 *
 * Baseline, in the same run: copying the same entries into a fresh table
 * with one INSERT ... SELECT, the least a rebuild of the table can cost.
 *
 *   npx tsx bench/migration-v5.ts [--entries 100000]
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Ledger } from '../src/evidence/ledger/ledger';
import { SqliteLedgerStorage } from '../src/evidence/ledger/sqlite-ledger-storage';
import { generateNoteKey, parseSignerKey } from '../src/evidence/note-key';
import { systemClock } from '../src/lib/clock';
import { SqliteStore } from '../src/store/sqlite/sqlite-store';
import { tempDir } from '../test/helpers/broker-harness';
import { writeV4Database } from '../test/helpers/v4-database';
import { arg } from './bench-lib';

const ORIGIN = 'bench.example/secret-broker';

/** The baseline: one INSERT ... SELECT of every entry into a fresh table, in one transaction. */
function copyBaseline(file: string): number {
  const db = new Database(file);
  try {
    const t = performance.now();
    db.transaction(() => {
      db.exec('CREATE TABLE copy_baseline (idx INTEGER PRIMARY KEY, type TEXT NOT NULL, time_ms INTEGER NOT NULL, bytes BLOB NOT NULL, leaf_hash BLOB NOT NULL) STRICT');
      db.exec('INSERT INTO copy_baseline SELECT idx, type, time_ms, bytes, leaf_hash FROM evidence_entries ORDER BY idx');
      db.exec('DROP TABLE copy_baseline');
    })();
    return (performance.now() - t) / 1000;
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const entries = arg('entries', 100_000);
  const tmp = tempDir('sb-bench-migration-');
  try {
    const signer = parseSignerKey(generateNoteKey(ORIGIN).signerKey);
    const v5 = path.join(tmp.dir, 'v5.db');
    const v4 = path.join(tmp.dir, 'v4.db');
    const built = new SqliteStore({ path: v5 });
    const ledger = await Ledger.open({ storage: new SqliteLedgerStorage(built.db, built.writes), origin: ORIGIN, signer, clock: systemClock });
    for (let i = 0; i < entries; i += 1000) {
      const n = Math.min(1000, entries - i);
      await Promise.all(
        Array.from({ length: n }, (_, j) =>
          ledger.append([{ type: 'decision', agent: 'support-bot', action: 'tickets.update', resource: `ticket/T-${i + j}`, decision: { effect: 'allow', policies: ['p1'], policy_version: 'v1' } }]),
        ),
      );
    }
    await ledger.signCheckpoint();
    await ledger.close();
    await built.close();
    const nodes = writeV4Database(v5, v4).length;
    console.log(`a version-4 log of ${entries} entries and ${nodes} interior nodes`);

    const baseline = copyBaseline(v4);
    let t = performance.now();
    const store = new SqliteStore({ path: v4 });
    const migrated = (performance.now() - t) / 1000;
    t = performance.now();
    const reopened = await Ledger.open({ storage: new SqliteLedgerStorage(store.db, store.writes), origin: ORIGIN, signer, clock: systemClock });
    const checked = (performance.now() - t) / 1000;
    if (reopened.size !== entries) throw new Error(`the migrated log has ${reopened.size} entries, not ${entries}`);
    await reopened.close();
    await store.close();

    console.log(`baseline: copy the entries into a fresh table   ${baseline.toFixed(2)} s`);
    console.log(`migration 5 (SqliteStore open)                  ${migrated.toFixed(2)} s  (${(migrated / baseline).toFixed(1)} x baseline)`);
    console.log(`then Ledger.open's integrity check              ${checked.toFixed(2)} s  (the migrated tree matches its signed checkpoint)`);
  } finally {
    tmp.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
