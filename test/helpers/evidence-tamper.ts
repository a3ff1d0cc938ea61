import { strict as assert } from 'node:assert';
import Database from 'better-sqlite3';

/*
 * Editing a stopped broker's evidence tables as an attacker with file access
 * would: the append-only triggers are dropped first, then rows are changed.
 */

const TRIGGERS = ['entries', 'checkpoints'].flatMap((t) => [`evidence_${t}_no_update`, `evidence_${t}_no_delete`]);

/** Opens the database file, drops the append-only triggers, runs `fn`, closes it. */
export function tamperDb(file: string, fn: (db: Database.Database) => void): void {
  const db = new Database(file);
  try {
    for (const t of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${t}`);
    fn(db);
  } finally {
    db.close();
  }
}

export const bytesOf = (db: Database.Database, idx: number): Buffer => db.prepare('SELECT bytes FROM evidence_entries WHERE idx = ?').pluck().get(idx) as Buffer;

export const setBytes = (db: Database.Database, idx: number, bytes: Buffer): void => void db.prepare('UPDATE evidence_entries SET bytes = ? WHERE idx = ?').run(bytes, idx);

/** One byte: "support-bot" becomes "support-bou", still canonical JSON. */
export function oneByteEdit(bytes: Buffer): Buffer {
  const at = bytes.indexOf('"support-bot"');
  assert.ok(at >= 0, 'the entry names support-bot');
  const out = Buffer.from(bytes);
  out[at + '"support-bo'.length] = 'u'.charCodeAt(0);
  return out;
}
