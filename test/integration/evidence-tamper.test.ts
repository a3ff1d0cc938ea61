import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { StartupError } from '../../src/app';
import { call } from '../../src/client/grpc-client';
import { hashLeaf } from '../../src/evidence/merkle';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type TestPki } from '../helpers/broker-harness';
import { bytesOf, oneByteEdit, setBytes, tamperDb } from '../helpers/evidence-tamper';
import { runCapture } from '../helpers/run-cli';
import { expectDenied } from '../helpers/expect-denial';

/*
 * An attacker with write access to the state database edits the evidence log
 * (dropping the append-only triggers first). The daemon must refuse to start,
 * naming the entry; and an export of the tampered log (or a tampered export
 * of an honest log) must fail `evidence verify`, or fail to export, naming it.
 */

interface Case {
  dir: string;
  raw: Record<string, unknown>;
  cfg: string;
  db: string;
}

describe('evidence tamper: a changed stored log is refused by the daemon and by export/verify, naming the entry', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pristine: Case;
  let vkey: string;
  let size: number;
  /** Entries the grants wrote for support-bot: the targets. */
  let supportEntries: number[];

  function writeCase(name: string, fromDb?: string): Case {
    const dir = path.join(tmp.dir, name);
    fs.mkdirSync(dir, { recursive: true });
    const db = path.join(dir, 'broker.db');
    if (fromDb) {
      for (const suffix of ['', '-wal', '-shm']) if (fs.existsSync(fromDb + suffix)) fs.copyFileSync(fromDb + suffix, db + suffix);
    }
    const raw = { ...(pristine?.raw ?? baseRawConfig(pki, dir)), state: { sqlite: db } };
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, stringify(raw));
    return { dir, raw, cfg, db };
  }

  /** The daemon, built by the composition root, must refuse naming entry `index`. */
  async function expectRefusal(c: Case, index: number, why: RegExp): Promise<string> {
    let err: unknown;
    try {
      const b = await startBroker({ pki, dir: c.dir, raw: c.raw });
      await b.close();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof StartupError, `expected a StartupError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`refusing to start: evidence: entry ${index}: `), err.message);
    assert.match(err.message, why);
    return err.message;
  }

  /**
   * `evidence export` then `evidence verify`: one of them fails, naming entry
   * `index`. `exportNames` widens what an export failure may name (see (b)).
   */
  async function expectExportOrVerifyFails(c: Case, index: number, exportNames = new RegExp(`\\bentry ${index}\\b`)): Promise<{ stage: string; line: string }> {
    const out = path.join(c.dir, 'export');
    const ex = await runCapture(['evidence', 'export', '--config', c.cfg, '--out', out]);
    if (ex.code !== 0) {
      assert.equal(ex.code, 1, ex.err);
      assert.match(ex.err, exportNames);
      assert.equal(ex.err.trim().split('\n').length, 1, 'one clear line');
      return { stage: 'export', line: ex.err.trim() };
    }
    return { stage: 'verify', line: await expectVerifyFails(out, index) };
  }

  async function expectVerifyFails(bundle: string, index: number): Promise<string> {
    const state = path.join(path.dirname(bundle), `state-${path.basename(bundle)}.json`);
    const v = await runCapture(['evidence', 'verify', bundle, '--key', vkey, '--state', state]);
    assert.equal(v.code, 1, v.out + v.err);
    assert.ok(v.err.startsWith(`secret-broker: evidence verify failed: entry ${index}: `), v.err);
    assert.ok(!fs.existsSync(state), 'a failed verify remembers nothing');
    return v.err.trim();
  }

  before(async () => {
    tmp = tempDir('sb-tamper-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    pristine = writeCase('pristine');
    // A real daemon with real grants and denials over mTLS writes the log.
    const broker = await startBroker({ pki, dir: pristine.dir, raw: pristine.raw });
    try {
      const support = broker.clientFor('agents', 'support-bot');
      const analyst = broker.clientFor('agents', 'analyst-bot');
      const lease = (c: typeof support, t: string) =>
        call<unknown, LeaseResponse__Output>(c.agent, 'RequestLease', {
          action: 'tickets.update',
          resource: `ticket/${t}`,
          params: { fields: { ticket: { stringValue: t } } },
          ttlSeconds: 300,
          maxUses: 1,
        });
      for (let i = 0; i < 8; i++) {
        assert.equal((await lease(support, `T-${i}`)).status, 'GRANTED');
        expectDenied(await lease(analyst, `T-${i}`));
      }
    } finally {
      await broker.close(); // signs a final checkpoint over every entry
    }
    const db = new Database(pristine.db, { readonly: true });
    try {
      size = db.prepare('SELECT COUNT(*) FROM evidence_entries').pluck().get() as number;
      const last = db.prepare('SELECT size FROM evidence_checkpoints ORDER BY seq DESC LIMIT 1').pluck().get() as number;
      assert.equal(last, size, 'the last checkpoint covers every entry');
      const rows = db.prepare('SELECT idx, bytes FROM evidence_entries ORDER BY idx').all() as { idx: number; bytes: Buffer }[];
      const types = new Set(rows.map((r) => (JSON.parse(r.bytes.toString()) as { type: string }).type));
      for (const t of ['policy.loaded', 'decision', 'lease.issued']) assert.ok(types.has(t), `the log has ${t} entries`);
      supportEntries = rows.filter((r) => r.bytes.includes('"support-bot"')).map((r) => r.idx);
    } finally {
      db.close();
    }
    assert.ok(size >= 24 && supportEntries.length >= 8, `${size} entries`);
    const key = await runCapture(['evidence', 'key', '--config', pristine.cfg, '--json']);
    assert.equal(key.code, 0, key.err);
    vkey = (JSON.parse(key.out) as { verifier_key: string }).verifier_key;
  });
  after(() => tmp?.cleanup());

  it('the untampered log starts, exports and verifies', async () => {
    const c = writeCase('untouched', pristine.db);
    const b = await startBroker({ pki, dir: c.dir, raw: c.raw });
    await b.close();
    const out = path.join(c.dir, 'export');
    const ex = await runCapture(['evidence', 'export', '--config', c.cfg, '--out', out]);
    assert.equal(ex.code, 0, ex.err);
    const v = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', path.join(c.dir, 'state.json')]);
    assert.equal(v.code, 0, v.err);
  });

  describe('in the state database', () => {
    it('(a) one byte of one entry changed', async () => {
      const k = supportEntries[4]!;
      const c = writeCase('db-one-byte', pristine.db);
      tamperDb(c.db, (db) => setBytes(db, k, oneByteEdit(bytesOf(db, k))));
      await expectRefusal(c, k, /its bytes do not hash to its stored leaf hash/);
      await expectExportOrVerifyFails(c, k);
    });

    it('(b) the last entries deleted after a checkpoint covered them', async () => {
      const first = size - 3;
      const c = writeCase('db-dropped', pristine.db);
      tamperDb(c.db, (db) => db.prepare('DELETE FROM evidence_entries WHERE idx >= ?').run(first));
      await expectRefusal(c, first, new RegExp(`missing: the state database holds ${first} evidence entries, fewer than the last signed checkpoint's ${size}`));
      // `evidence export` runs the same whole-log check first, so it names the first deleted entry too.
      const r = await expectExportOrVerifyFails(c, first, new RegExp(`\\bentry ${first}\\b`));
      assert.equal(r.stage, 'export', 'a log missing entries a checkpoint covers cannot be exported');
    });

    it('(c) two entries swapped', async () => {
      const [i, j] = [supportEntries[2]!, supportEntries[5]!];
      const c = writeCase('db-swapped', pristine.db);
      tamperDb(c.db, (db) => {
        const [a, b] = [bytesOf(db, i), bytesOf(db, j)];
        setBytes(db, i, b);
        setBytes(db, j, a);
      });
      await expectRefusal(c, i, new RegExp(`its index field is ${j}, not ${i}`));
      await expectExportOrVerifyFails(c, i);
    });

    it('an edited entry with its leaf hash rewritten to match is refused by the tree node above it', async () => {
      const k = supportEntries[3]!;
      const c = writeCase('db-rehashed', pristine.db);
      tamperDb(c.db, (db) => {
        const bytes = oneByteEdit(bytesOf(db, k));
        db.prepare('UPDATE evidence_entries SET bytes = ?, leaf_hash = ? WHERE idx = ?').run(bytes, hashLeaf(bytes), k);
      });
      // The leaf's parent node no longer matches: the message names the first entry under it.
      const first = k - (k % 2);
      await expectRefusal(c, first, new RegExp(`the stored tree node \\(level 1, index ${first / 2}\\) over entries ${first}\\.\\.${first + 1} does not match`));
      // The export carries the rewritten leaf hash (as entry k's own, or as its sibling's proof), so verify blames the same pair.
      await expectExportOrVerifyFails(c, first);
    });
  });

  describe('in an export of the untampered log, file by file', () => {
    let bundle: string;

    before(async () => {
      const c = writeCase('honest-export', pristine.db);
      bundle = path.join(c.dir, 'export');
      const ex = await runCapture(['evidence', 'export', '--config', c.cfg, '--out', bundle]);
      assert.equal(ex.code, 0, ex.err);
      const v = await runCapture(['evidence', 'verify', bundle, '--key', vkey, '--state', path.join(c.dir, 'fresh.json')]);
      assert.equal(v.code, 0, v.err);
    });

    const copy = (name: string): string => {
      const dest = path.join(path.dirname(bundle), name);
      fs.cpSync(bundle, dest, { recursive: true });
      return dest;
    };
    const entry = (dir: string, i: number): string => path.join(dir, 'entries', `${i}.json`);

    it('(a) one byte of one entry file changed', async () => {
      const k = supportEntries[4]!;
      const dir = copy('file-one-byte');
      fs.writeFileSync(entry(dir, k), oneByteEdit(fs.readFileSync(entry(dir, k))));
      await expectVerifyFails(dir, k);
    });

    it('(b) the last entry files deleted', async () => {
      const first = size - 3;
      const dir = copy('file-dropped');
      for (let i = first; i < size; i++) fs.rmSync(entry(dir, i));
      assert.match(await expectVerifyFails(dir, first), new RegExp(`entries/${first}\\.json is missing`));
    });

    it('(c) two entry files swapped', async () => {
      const [i, j] = [supportEntries[2]!, supportEntries[5]!];
      const dir = copy('file-swapped');
      const [a, b] = [fs.readFileSync(entry(dir, i)), fs.readFileSync(entry(dir, j))];
      fs.writeFileSync(entry(dir, i), b);
      fs.writeFileSync(entry(dir, j), a);
      assert.match(await expectVerifyFails(dir, i), new RegExp(`index field is ${j}`));
    });
  });
});
