import { homedir } from 'node:os';
import * as path from 'node:path';
import { call } from '../client/grpc-client';
import { loadConfig } from '../config/load';
import type { BundleEntry, BundleSource } from '../evidence/bundle';
import { writeBundle } from '../evidence/bundle';
import { BundleVerifyError, verifyBundle } from '../evidence/bundle-verify';
import { EvidenceError } from '../evidence/evidence-error';
import { bundleSourceFor } from '../evidence/ledger/ledger-reader';
import { checkLedgerIntegrity } from '../evidence/ledger/integrity-check';
import { ensureSigningKey, loadSigningKey } from '../evidence/ledger/signing-key';
import { parseVerifierKey } from '../evidence/note-key';
import { openSqliteLedgerReadOnly } from '../evidence/ledger/sqlite-ledger-storage';
import { encodeBase64 } from '../evidence/strict-encoding';
import type { Checkpoint__Output } from '../gen/secretbroker/v1/Checkpoint';
import { BrokerError, unimplemented } from '../lib/errors';
import { EXIT, UsageError, emit, type CliIo } from './cli-io';
import { clientFromFlags, rpcError } from './client-flags';
import { CLIENT_FLAGS, JSON_FLAG, list, str, type Command, type Values } from './command';

/** Export progress is reported on stderr every this many entries, for exports at least this long. */
const PROGRESS_EVERY = 10_000;

function configFlag(values: Values, cmd: string) {
  const file = str(values, 'config');
  if (!file) throw new UsageError(`${cmd} needs --config FILE`);
  return loadConfig(file);
}

function index(values: Values, key: string): number | undefined {
  const v = str(values, key);
  if (v === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${key}: expected an entry index (a whole number)`);
  return Number(v);
}

/** ~/.config/secret-broker/verifier-state.json, honouring XDG_CONFIG_HOME. */
export function defaultVerifierStatePath(env: NodeJS.ProcessEnv): string {
  const base = env['XDG_CONFIG_HOME'] || path.join(env['HOME'] || homedir(), '.config');
  return path.join(base, 'secret-broker', 'verifier-state.json');
}

export const evidenceKeyCommand: Command = {
  path: ['evidence', 'key'],
  summary: "print the evidence log's verifier key (creates the signing key if missing, as serve does)",
  usage: 'evidence key --config FILE [--json]',
  options: { config: { type: 'string' }, ...JSON_FLAG },
  async run(values, _pos, io) {
    const config = configFlag(values, 'evidence key');
    const file = config.evidence.signingKey;
    const { signer, created } = await ensureSigningKey(file, config.evidence.origin, {
      allowInsecurePermissions: config.devMode,
      warn: (m) => io.stderr.write(`warning: ${m}\n`),
    });
    if (created) io.stderr.write(`created evidence signing key ${file} (0600); back it up: checkpoints are signed with it\n`);
    const keyId = signer.keyId.toString(16).padStart(8, '0');
    emit(io, values.json === true, { origin: config.evidence.origin, key_id: keyId, verifier_key: signer.verifierKey, signing_key_file: file, created }, signer.verifierKey);
    return EXIT.ok;
  },
};

export const evidenceExportCommand: Command = {
  path: ['evidence', 'export'],
  summary: 'write an offline-verifiable bundle of the evidence log (reads the state database directly, read-only)',
  usage: 'evidence export --config FILE --out DIR [--from N] [--to M] [--consistency-from SIZE]... [--json]',
  options: {
    config: { type: 'string' },
    out: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'consistency-from': { type: 'string', multiple: true },
    ...JSON_FLAG,
  },
  async run(values, _pos, io) {
    const config = configFlag(values, 'evidence export');
    const out = str(values, 'out');
    if (!out) throw new UsageError('evidence export needs --out DIR');
    const from = index(values, 'from') ?? 0;
    const to = index(values, 'to');
    if (to !== undefined && to < from) throw new UsageError(`--to ${to} is before --from ${from}`);
    const consistencyFrom = list(values, 'consistency-from').map((v) => {
      if (!/^[1-9][0-9]{0,15}$/.test(v)) throw new UsageError('--consistency-from: expected a tree size (a whole number from 1)');
      return Number(v);
    });
    if (config.state.kind !== 'sqlite') throw unimplemented('evidence export from PostgreSQL', 'a later issue');

    const signer = await loadSigningKey(config.evidence.signingKey, config.evidence.origin, { allowInsecurePermissions: config.devMode });
    const db = openSqliteLedgerReadOnly(config.state.path);
    try {
      const storage = db.storage;
      // The same whole-log check the daemon runs at start: a tampered store is refused here, naming the entry.
      await checkLedgerIntegrity({ storage, origin: config.evidence.origin, logKey: parseVerifierKey(signer.verifierKey), signer, upToLastCheckpoint: true });
      // The export ends at a signed checkpoint: the first one that covers --to, else the latest.
      const cp = to === undefined ? await storage.latestCheckpoint() : await storage.checkpointAtLeast(to + 1);
      if (!cp) {
        throw new BrokerError(
          'failed_precondition',
          to === undefined
            ? 'the evidence log has no signed checkpoint yet; start the daemon once'
            : `no signed checkpoint covers entry ${to} yet (the daemon signs one within a second of new entries)`,
        );
      }
      if (from > cp.size) {
        throw new UsageError(`--from ${from}: the checkpoint ends the log at size ${cp.size} (entries 0..${cp.size - 1})`);
      }
      if (to !== undefined && cp.size > to + 1) {
        io.stderr.write(`note: the export runs to entry ${cp.size - 1}, the end of the first signed checkpoint covering entry ${to}\n`);
      }
      const total = cp.size - from;
      const result = await writeBundle(out, withProgress(bundleSourceFor(storage, cp), total, io), { start: from, consistencyFrom });
      const summary = {
        out: path.resolve(io.cwd, out),
        origin: result.origin,
        size: result.size,
        start: result.start,
        entries: result.entries,
        root_hash: encodeBase64(cp.rootHash),
        consistency_from: result.consistencyFrom,
      };
      emit(
        io,
        values.json === true,
        summary,
        `exported entries ${result.start}..${result.size - 1} (${result.entries}) of ${result.origin} to ${out}\ncheckpoint size ${result.size}, root ${summary.root_hash}`,
      );
      return EXIT.ok;
    } finally {
      db.close();
    }
  },
};

function withProgress(source: BundleSource, total: number, io: CliIo): BundleSource {
  if (total < PROGRESS_EVERY) return source;
  return {
    ...source,
    entries: async function* (start: number, end: number): AsyncGenerator<BundleEntry> {
      let done = 0;
      for await (const e of source.entries(start, end)) {
        yield e;
        if (++done % PROGRESS_EVERY === 0 || done === total) io.stderr.write(`exported ${done}/${total} entries\n`);
      }
    },
  };
}

export const evidenceVerifyCommand: Command = {
  path: ['evidence', 'verify'],
  summary: 'verify an exported evidence bundle offline (no config, no daemon)',
  usage: 'evidence verify DIR --key VKEY [--key VKEY]... [--state FILE] [--origin ORIGIN] [--json]',
  options: { key: { type: 'string', multiple: true }, state: { type: 'string' }, origin: { type: 'string' }, ...JSON_FLAG },
  positionals: [1, 1],
  async run(values, [dir], io) {
    const keys = list(values, 'key');
    if (keys.length === 0) throw new UsageError('evidence verify needs --key VKEY (the log\'s verifier key, from `evidence key`)');
    const statePath = str(values, 'state') ?? defaultVerifierStatePath(io.env);
    const origin = str(values, 'origin');
    const json = values.json === true;
    const bundle = path.resolve(io.cwd, dir!);
    try {
      const r = await verifyBundle(bundle, { keys, statePath, ...(origin !== undefined ? { origin } : {}) });
      const summary = {
        ok: true,
        origin: r.origin,
        size: r.size,
        root_hash: encodeBase64(r.rootHash),
        start: r.start,
        entries: r.entries,
        log_keys: r.logKeys,
        cosigners: r.cosigners,
        consistency: r.consistency,
        state: statePath,
      };
      emit(io, json, summary, () =>
        [
          `OK: ${r.origin} checkpoint size ${r.size}, root ${summary.root_hash}`,
          r.entries > 0 ? `  entries ${r.start}..${r.size - 1} (${r.entries}) verified` : '  no entries in this export',
          `  signed by ${r.logKeys.join(', ')}`,
          ...r.cosigners.map((c) => `  cosigned by ${c.name}+${c.keyId}`),
          ...r.consistency.map((c) => `  consistent with the checkpoint of size ${c.previousSize} accepted before (key ${c.keyId}, ${c.how})`),
          `  remembered in ${statePath}`,
        ].join('\n'),
      );
      return EXIT.ok;
    } catch (err) {
      if (err instanceof EvidenceError && err.code === 'EVIDENCE_KEY_INVALID') throw new UsageError(`--key: ${err.message}`);
      if (!(err instanceof BundleVerifyError)) throw err;
      const firstLine = err.message.split('\n')[0]!;
      if (json) {
        io.stdout.write(
          JSON.stringify({
            ok: false,
            error: firstLine,
            reason: err.reason,
            ...(err.index !== undefined ? { index: err.index } : {}),
            ...(err.previousCheckpoint !== undefined ? { previous_checkpoint: err.previousCheckpoint } : {}),
            ...(err.currentCheckpoint !== undefined ? { current_checkpoint: err.currentCheckpoint } : {}),
          }) + '\n',
        );
      } else if (err.previousCheckpoint !== undefined && err.currentCheckpoint !== undefined) {
        // A fork or rollback is evidence in itself: show both signed checkpoints.
        io.stdout.write(`previously accepted checkpoint:\n${err.previousCheckpoint}\nthis bundle's checkpoint:\n${err.currentCheckpoint}`);
      }
      io.stderr.write(`secret-broker: evidence verify failed: ${firstLine}\n`);
      return EXIT.failure;
    }
  },
};

export const evidenceCheckpointCommand: Command = {
  path: ['evidence', 'checkpoint'],
  summary: "print the daemon's latest signed checkpoint note",
  usage: 'evidence checkpoint [--addr A --ca F --cert F --key F | --config F] [--json]',
  options: CLIENT_FLAGS,
  async run(values, _pos, io) {
    const c = clientFromFlags(values, io);
    try {
      let cp: Checkpoint__Output;
      try {
        cp = await call<unknown, Checkpoint__Output>(c.evidence, 'GetCheckpoint', {});
      } catch (err) {
        throw rpcError(err);
      }
      emit(
        io,
        values.json === true,
        { origin: cp.origin, size: Number(cp.size), root_hash: encodeBase64(cp.rootHash), note: cp.note.toString('utf8') },
        cp.note.toString('utf8'),
      );
      return EXIT.ok;
    } finally {
      c.close();
    }
  },
};

export const evidenceCommands: Command[] = [evidenceKeyCommand, evidenceExportCommand, evidenceVerifyCommand, evidenceCheckpointCommand];
