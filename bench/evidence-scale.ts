/**
 * The evidence log at scale: a log of --entries entries (default 100,000)
 * written through the real Ledger over a real SQLite store (batches of
 * concurrent appends, a checkpoint after every --per-checkpoint entries),
 * then, each timed with its peak RSS:
 *
 *   start-up check   checkLedgerIntegrity, and Ledger.open (which runs it)
 *   export           `evidence export --config F --out DIR`, the CLI command in-process
 *   verify           verifyBundle(DIR) offline
 *
 * The machines are shared and noisy, so every figure is also printed as a
 * ratio to a baseline measured in the same run over the same bytes:
 *
 *   read+sha256      every entry's bytes read from the database in index order and SHA-256'd
 *   copy entries/    copying the export's entries/ files one by one (a sample of 10,000,
 *                    scaled to the whole log: one small file per entry)
 *
 *   npx tsx --expose-gc bench/evidence-scale.ts [--entries 100000] [--per-checkpoint 250]
 *
 * Peak RSS is the kernel's VmHWM, reset before each phase through
 * /proc/self/clear_refs (Linux); "+MB" is the peak above the RSS at the
 * phase's start. Without --expose-gc the garbage of one phase may inflate
 * the next one's start.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { runCli } from '../src/cli/cli';
import { evidenceCommands } from '../src/cli/evidence-commands';
import { compileConfig } from '../src/config/compile';
import { verifyBundle } from '../src/evidence/bundle-verify';
import { parseVerifierKey } from '../src/evidence/note-key';
import type { EvidenceDraft } from '../src/evidence/ledger/evidence-sink';
import { checkLedgerIntegrity } from '../src/evidence/ledger/integrity-check';
import { Ledger } from '../src/evidence/ledger/ledger';
import { ensureSigningKey } from '../src/evidence/ledger/signing-key';
import { SqliteLedgerStorage, openSqliteLedgerReadOnly } from '../src/evidence/ledger/sqlite-ledger-storage';
import { systemClock } from '../src/lib/clock';
import { SqliteStore } from '../src/store/sqlite/sqlite-store';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { arg } from './bench-lib';

interface Phase {
  label: string;
  seconds: number;
  peakMb: number | undefined;
  addedMb: number | undefined;
}

const MB = 1024 * 1024;
const COPY_SAMPLE = 10_000;

function statusKb(field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resets the kernel's peak-RSS mark; false where that is not possible. */
function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function measure(label: string, fn: () => Promise<unknown>): Promise<Phase> {
  (globalThis as { gc?: () => void }).gc?.();
  const canReset = resetPeak();
  const start = process.memoryUsage().rss;
  // Sampling catches the peak where VmHWM cannot be reset (it only sees event-loop turns).
  let sampled = start;
  const timer = setInterval(() => (sampled = Math.max(sampled, process.memoryUsage().rss)), 20);
  const t = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const seconds = (performance.now() - t) / 1000;
  const hwm = canReset ? statusKb('VmHWM') : undefined;
  const peak = hwm !== undefined ? hwm * 1024 : Math.max(sampled, process.memoryUsage().rss);
  return { label, seconds, peakMb: peak / MB, addedMb: (peak - start) / MB };
}

function drafts(i: number): EvidenceDraft[] {
  const who = { agent: 'support-bot', action: 'tickets.update', resource: `ticket/T-${i}` };
  const expires = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return [
    { type: 'decision', ...who, decision: { effect: 'allow', policies: ['tickets-update-support'], policy_version: 'sha256:' + 'ab'.repeat(32) } },
    { type: 'lease.issued', ...who, lease: { id: `lease_${i.toString(36).padStart(24, '0')}`, expires_at: expires, max_expires_at: expires, max_uses: 1, uses_left: 1 } },
  ];
}

async function main(): Promise<void> {
  const entries = arg('entries', 100_000);
  const perCheckpoint = arg('per-checkpoint', 250);
  const began = performance.now();
  const tmp = tempDir('sb-bench-scale-');
  try {
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
    const raw = baseRawConfig(pki, tmp.dir, { log_level: 'warn' });
    const cfg = path.join(tmp.dir, 'config.yaml');
    fs.writeFileSync(cfg, stringify(raw));
    const config = compileConfig(raw, cfg);
    const origin = config.evidence.origin;
    const dbFile = (config.state as { path: string }).path;
    const { signer } = await ensureSigningKey(config.evidence.signingKey, origin);
    const logKey = parseVerifierKey(signer.verifierKey);

    // ---------------------------------------------------------------- build
    const t0 = performance.now();
    {
      const store = new SqliteStore({ path: dbFile });
      const ledger = await Ledger.open({ storage: new SqliteLedgerStorage(store.db, store.writes), origin, signer, clock: systemClock });
      for (let done = 0; done < entries; ) {
        const n = Math.min(perCheckpoint, entries - done);
        // Concurrent appends of two entries each (a decision and its lease), as RequestLease makes them; one batch per turn.
        const appends: Promise<unknown>[] = [];
        for (let k = 0; k + 1 < n; k += 2) appends.push(ledger.append(drafts(done + k)));
        if (n % 2 === 1) appends.push(ledger.append([drafts(done + n - 1)[0]!]));
        await Promise.all(appends);
        await ledger.signCheckpoint();
        done += n;
      }
      await ledger.close();
      await store.close();
    }
    const buildSeconds = (performance.now() - t0) / 1000;
    const db = new Database(dbFile, { readonly: true });
    const stored = db.prepare('SELECT COUNT(*) FROM evidence_entries').pluck().get() as number;
    const checkpoints = db.prepare('SELECT COUNT(*) FROM evidence_checkpoints').pluck().get() as number;
    const entryBytes = db.prepare('SELECT SUM(length(bytes)) FROM evidence_entries').pluck().get() as number;
    db.close();
    console.log(
      `built ${stored} entries (${(entryBytes / MB).toFixed(1)} MB of entry bytes, ${checkpoints} checkpoints) through the Ledger in ${buildSeconds.toFixed(1)} s`,
    );

    const phases: Phase[] = [];

    // ------------------------------------------------------------ baselines
    phases.push(
      await measure('baseline: read+sha256 every entry', async () => {
        const ro = new Database(dbFile, { readonly: true });
        try {
          const h = createHash('sha256');
          for (const b of ro.prepare('SELECT bytes FROM evidence_entries ORDER BY idx').pluck().iterate()) h.update(createHash('sha256').update(b as Buffer).digest());
          h.digest();
        } finally {
          ro.close();
        }
      }),
    );

    // ------------------------------------------------------- start-up check
    let checked = 0;
    phases.push(
      await measure('start-up: checkLedgerIntegrity', async () => {
        const ro = openSqliteLedgerReadOnly(dbFile);
        try {
          checked = (await checkLedgerIntegrity({ storage: ro.storage, origin, logKey, signer })).size;
        } finally {
          ro.close();
        }
      }),
    );
    if (checked !== stored) throw new Error(`the check saw ${checked} entries, not ${stored}`);
    phases.push(
      await measure('start-up: Ledger.open (runs the check)', async () => {
        const store = new SqliteStore({ path: dbFile });
        const ledger = await Ledger.open({ storage: new SqliteLedgerStorage(store.db, store.writes), origin, signer, clock: systemClock });
        await ledger.close();
        await store.close();
      }),
    );

    // ------------------------------------------------------- export, verify
    const out = path.join(tmp.dir, 'export');
    phases.push(
      await measure('evidence export (CLI, in-process)', async () => {
        const sink = new PassThrough();
        sink.resume();
        let err = '';
        const stderr = new PassThrough();
        stderr.on('data', (d: Buffer) => (err += d.toString()));
        const stdin = new PassThrough();
        stdin.end();
        const code = await runCli(['evidence', 'export', '--config', cfg, '--out', out, '--json'], { stdout: sink, stderr, stdin, env: {}, cwd: tmp.dir }, evidenceCommands);
        if (code !== 0) throw new Error(`evidence export failed: ${err}`);
      }),
    );
    // Copying every entry file costs as much as the export's own writes and as much again to delete:
    // a sample of COPY_SAMPLE files gives the per-entry figure.
    const sample = Math.min(COPY_SAMPLE, stored);
    const copied = await measure(`baseline: copy entries/ (${sample} files)`, async () => {
      const to = path.join(tmp.dir, 'entries-copy');
      fs.mkdirSync(to);
      for (let i = 0; i < sample; i++) fs.copyFileSync(path.join(out, 'entries', `${i}.json`), path.join(to, `${i}.json`));
    });
    phases.push({ ...copied, seconds: (copied.seconds * stored) / sample, label: `baseline: copy entries/ (${sample} files, scaled)` });
    let verified = 0;
    phases.push(
      await measure('verifyBundle', async () => {
        verified = (await verifyBundle(out, { keys: [signer.verifierKey] })).entries;
      }),
    );
    if (verified !== stored) throw new Error(`verify saw ${verified} entries, not ${stored}`);

    // ---------------------------------------------------------------- table
    const sha = phases[0]!.seconds;
    const copy = phases.find((p) => p.label.startsWith('baseline: copy'))!.seconds;
    console.log(`\n${stored} entries, ${checkpoints} checkpoints; ratios are to the baselines of this run`);
    console.log(
      ['phase'.padEnd(46), 's'.padStart(7), 'µs/entry'.padStart(9), '× sha256'.padStart(9), '× copy'.padStart(8), 'peak MB'.padStart(8), '+MB'.padStart(6)].join(' '),
    );
    for (const p of phases) {
      console.log(
        [
          p.label.padEnd(46),
          p.seconds.toFixed(2).padStart(7),
          ((p.seconds * 1e6) / stored).toFixed(1).padStart(9),
          (p.seconds / sha).toFixed(1).padStart(9),
          (p.seconds / copy).toFixed(2).padStart(8),
          (p.peakMb?.toFixed(0) ?? '?').padStart(8),
          (p.addedMb?.toFixed(0) ?? '?').padStart(6),
        ].join(' '),
      );
    }
  } finally {
    const t = performance.now();
    // rm(1) removes hundreds of thousands of small files several times faster than fs.rmSync.
    spawnSync('rm', ['-rf', '--', tmp.dir], { stdio: 'ignore' });
    tmp.cleanup();
    console.log(`\nremoving the temp dir took ${((performance.now() - t) / 1000).toFixed(1)} s; whole run ${((performance.now() - began) / 1000).toFixed(0)} s`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
