import { homedir } from 'node:os';
import * as path from 'node:path';
import { call } from '../client/grpc-client';
import { loadConfig } from '../config/load';
import type { BundleEntry, BundleSource } from '../evidence/bundle';
import { writeBundle } from '../evidence/bundle';
import { BundleVerifyError, verifyBundle } from '../evidence/bundle-verify';
import { openCheckpoint } from '../evidence/checkpoint';
import { parseCosignatureVerifierKey } from '../evidence/cosignature';
import { EvidenceError } from '../evidence/evidence-error';
import { bundleSourceFor } from '../evidence/ledger/ledger-reader';
import { checkLedgerIntegrity } from '../evidence/ledger/integrity-check';
import { keyLabel, readKeyHistory, readLogKeys } from '../evidence/ledger/key-history';
import type { LedgerReadStorage, StoredCheckpoint } from '../evidence/ledger/ledger-storage';
import { ensureSigningKey } from '../evidence/ledger/signing-key';
import { SIG_TYPE_COSIGNATURE_V1, decodeVerifierKey, formatKeyId, parseVerifierKey, type NoteVerifier } from '../evidence/note-key';
import { openSqliteLedgerReadOnly, type SqliteLedgerReadStorage } from '../evidence/ledger/sqlite-ledger-storage';
import { parseNote } from '../evidence/signed-note';
import { encodeBase64 } from '../evidence/strict-encoding';
import type { Checkpoint__Output } from '../gen/secretbroker/v1/Checkpoint';
import type { RotateEvidenceKeyResponse__Output } from '../gen/secretbroker/v1/RotateEvidenceKeyResponse';
import { BrokerError, unimplemented } from '../lib/errors';
import { EXIT, UsageError, emit, type CliIo } from './cli-io';
import { withClients } from './client-flags';
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

export const evidenceKeyCommand: Command = Object.freeze<Command>({
  path: ['evidence', 'key'],
  summary: "print the evidence log's verifier key (creates the signing key if missing, as serve does)",
  usage: 'evidence key --config FILE [--json]',
  options: { config: { type: 'string' }, ...JSON_FLAG },
  async run(values, _pos, io) {
    const config = configFlag(values, 'evidence key');
    const file = config.evidence.signingKey;
    const history = await readKeyHistory(file, config.evidence.origin);
    if (history) {
      // The log rotated: its key history (public keys) is the truth; the daemon owns the key files.
      const keys = history.keys.map((k) => k.verifierKey);
      const current = keys[keys.length - 1]!;
      const keyId = formatKeyId(parseVerifierKey(current).keyId);
      emit(
        io,
        values.json === true,
        { origin: config.evidence.origin, key_id: keyId, verifier_key: current, retired_verifier_keys: keys.slice(0, -1), signing_key_file: file, created: false },
        current,
      );
      return EXIT.ok;
    }
    const { signer, created } = await ensureSigningKey(file, config.evidence.origin, {
      allowInsecurePermissions: config.devMode,
      warn: (m) => io.stderr.write(`warning: ${m}\n`),
    });
    if (created) io.stderr.write(`created evidence signing key ${file} (0600); back it up: checkpoints are signed with it\n`);
    const keyId = signer.keyId.toString(16).padStart(8, '0');
    emit(
      io,
      values.json === true,
      { origin: config.evidence.origin, key_id: keyId, verifier_key: signer.verifierKey, retired_verifier_keys: [], signing_key_file: file, created },
      signer.verifierKey,
    );
    return EXIT.ok;
  },
});

export const evidenceExportCommand: Command = Object.freeze<Command>({
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

    const origin = config.evidence.origin;
    const keys = await readLogKeys(config.evidence.signingKey, origin, { allowInsecurePermissions: config.devMode });
    const logKey = parseVerifierKey(keys.current);
    const older = keys.retired.map(parseVerifierKey);
    const db = openSqliteLedgerReadOnly(config.state.path);
    try {
      const storage = db.storage;
      // The same whole-log check the daemon runs at start: a tampered store is refused here, naming the entry.
      await checkLedgerIntegrity({
        storage,
        origin,
        logKey,
        olderLogKeys: older,
        ...(keys.previous ? { previousLogKey: parseVerifierKey(keys.previous) } : {}),
        ...(keys.signer ? { signer: keys.signer } : {}),
        upToLastCheckpoint: true,
      });
      // The export ends at a signed checkpoint: the first one that covers --to, else the latest; witnessed ones first.
      const plain = to === undefined ? await storage.latestCheckpoint() : await storage.checkpointAtLeast(to + 1);
      const cosigned = await cosignedCheckpoint(storage, to, [logKey, ...older], origin);
      const cp = cosigned ?? plain;
      if (cosigned && plain && plain.size > cosigned.size) {
        io.stderr.write(`note: the export ends at size ${cosigned.size}, the newest checkpoint witnesses cosigned; the log is signed up to size ${plain.size}\n`);
      }
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
        cosigned: cosigned !== undefined,
      };
      emit(
        io,
        values.json === true,
        summary,
        `exported entries ${result.start}..${result.size - 1} (${result.entries}) of ${result.origin} to ${out}\ncheckpoint size ${result.size}, root ${summary.root_hash}${cosigned ? ' (witness-cosigned)' : ''}`,
      );
      return EXIT.ok;
    } finally {
      db.close();
    }
  },
});

/**
 * The witness-cosigned note to export, if any: the newest one (or the first
 * covering --to). Checked against the log's own signed checkpoint of that
 * size, which the integrity check covered: same checkpoint text, and it still
 * opens with the log keys. Every file of the export carries it byte for byte.
 */
async function cosignedCheckpoint(
  storage: LedgerReadStorage & Pick<SqliteLedgerReadStorage, 'latestCosignedCheckpoint' | 'cosignedCheckpointAtLeast'>,
  to: number | undefined,
  logKeys: readonly NoteVerifier[],
  origin: string,
): Promise<StoredCheckpoint | undefined> {
  const c = to === undefined ? await storage.latestCosignedCheckpoint() : await storage.cosignedCheckpointAtLeast(to + 1);
  if (!c) return undefined;
  const own = await storage.checkpointAt(c.size);
  const mismatch = (): BrokerError =>
    new BrokerError('failed_precondition', `evidence: the stored witness-cosigned checkpoint of size ${c.size} does not match the log's signed checkpoint of that size`);
  if (!own) throw mismatch();
  try {
    if (parseNote(c.note).text !== parseNote(own.note).text) throw mismatch();
    openCheckpoint(c.note, logKeys, { origin });
  } catch (err) {
    if (err instanceof BrokerError) throw err;
    throw mismatch();
  }
  return { ...own, note: c.note };
}

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

export const evidenceVerifyCommand: Command = Object.freeze<Command>({
  path: ['evidence', 'verify'],
  summary: 'verify an exported evidence bundle offline (no config, no daemon)',
  usage: 'evidence verify DIR --key VKEY [--key VKEY]... [--witness VKEY]... [--min-witnesses K] [--state FILE] [--origin ORIGIN] [--json]',
  options: {
    key: { type: 'string', multiple: true },
    witness: { type: 'string', multiple: true },
    'min-witnesses': { type: 'string' },
    state: { type: 'string' },
    origin: { type: 'string' },
    ...JSON_FLAG,
  },
  positionals: [1, 1],
  async run(values, [dir], io) {
    const keys = list(values, 'key');
    if (keys.length === 0) throw new UsageError('evidence verify needs --key VKEY (the log\'s verifier key, from `evidence key`)');
    const witnesses = list(values, 'witness');
    witnesses.forEach(checkWitnessKey);
    const minWitnesses = minWitnessesFlag(values, witnesses);
    const statePath = str(values, 'state') ?? defaultVerifierStatePath(io.env);
    const origin = str(values, 'origin');
    const json = values.json === true;
    const bundle = path.resolve(io.cwd, dir!);
    try {
      const r = await verifyBundle(bundle, { keys, statePath, witnesses, minWitnesses, ...(origin !== undefined ? { origin } : {}) });
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
        witness_quorum: r.witnessQuorum ?? null,
        state: statePath,
      };
      emit(io, json, summary, () =>
        [
          `OK: ${r.origin} checkpoint size ${r.size}, root ${summary.root_hash}`,
          r.entries > 0 ? `  entries ${r.start}..${r.size - 1} (${r.entries}) verified` : '  no entries in this export',
          `  signed by ${r.logKeys.join(', ')}`,
          ...r.cosigners.map((c) => `  cosigned by ${c.name}+${c.keyId}`),
          ...(r.witnessQuorum ? [`  witness quorum met: ${r.witnessQuorum.witnesses.length} of at least ${r.witnessQuorum.required} (${r.witnessQuorum.witnesses.join(', ')})`] : []),
          ...r.consistency.map((c) => `  consistent with the checkpoint of size ${c.previousSize} accepted before (key ${c.keyId}, ${c.how})`),
          `  remembered in ${statePath}`,
        ].join('\n'),
      );
      return EXIT.ok;
    } catch (err) {
      if (err instanceof EvidenceError && err.code === 'EVIDENCE_KEY_INVALID') {
        throw new UsageError(`${WITNESS_FLAG_REASONS.has(err.reason) ? '--min-witnesses' : '--key'}: ${err.message}`);
      }
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
});

/** verifyBundle's EVIDENCE_KEY_INVALID reasons that are about the quorum, not a --key. */
const WITNESS_FLAG_REASONS: ReadonlySet<string> = new Set(['bad-witness-quorum', 'witness-quorum-unreachable']);

/** A --witness must be a cosigner key (type 0x04); its problems are named after the flag. */
function checkWitnessKey(vkey: string): void {
  try {
    const d = decodeVerifierKey(vkey);
    if (d.type !== SIG_TYPE_COSIGNATURE_V1) {
      throw new UsageError(`--witness: ${d.name}+${formatKeyId(d.keyId)} is not a witness cosigner key (type 0x04); a log key goes in --key`);
    }
    parseCosignatureVerifierKey(vkey);
  } catch (err) {
    if (err instanceof EvidenceError) throw new UsageError(`--witness: ${err.message}`);
    throw err;
  }
}

/** --min-witnesses K: default 1 when any --witness is given, else 0. */
function minWitnessesFlag(values: Values, witnesses: readonly string[]): number {
  const v = str(values, 'min-witnesses');
  if (v === undefined) return witnesses.length > 0 ? 1 : 0;
  if (!/^(0|[1-9][0-9]{0,3})$/.test(v)) throw new UsageError('--min-witnesses: expected a whole number');
  const k = Number(v);
  const distinct = new Set(witnesses.map((w) => decodeVerifierKey(w).publicKey.toString('hex'))).size;
  if (k > distinct) throw new UsageError(`--min-witnesses: ${k} needs at least ${k} distinct --witness keys; ${distinct} given`);
  return k;
}

export const evidenceRotateKeyCommand: Command = Object.freeze<Command>({
  path: ['evidence', 'rotate-key'],
  summary: "rotate the daemon's evidence signing key (role admin); both keys sign during the overlap",
  usage: 'evidence rotate-key [--reason TEXT] [--addr A --ca F --cert F --key F | --config F] [--json]',
  options: { ...CLIENT_FLAGS, reason: { type: 'string' } },
  async run(values, _pos, io) {
    return withClients(values, io, async (c) => {
      const r = await call<unknown, RotateEvidenceKeyResponse__Output>(c.operator, 'RotateEvidenceKey', { reason: str(values, 'reason') ?? '' });
      const ref = r.evidence;
      emit(
        io,
        values.json === true,
        {
          verifier_key: r.verifierKey,
          previous_verifier_key: r.previousVerifierKey,
          overlap_until: r.overlapUntil,
          evidence: ref ? { origin: ref.origin, index: Number(ref.index), leaf_hash: encodeBase64(ref.leafHash) } : null,
        },
        () =>
          [
            r.verifierKey,
            `rotated from ${keyLabel(r.previousVerifierKey)}; both keys sign checkpoints until ${r.overlapUntil}`,
            ...(ref ? [`recorded as evidence entry ${ref.index} (key.rotated) of ${ref.origin}`] : []),
            'auditors: add the new key (evidence verify --key NEW --key OLD); witnesses: trust it before the overlap ends',
          ].join('\n'),
      );
      return EXIT.ok;
    });
  },
});

export const evidenceCheckpointCommand: Command = Object.freeze<Command>({
  path: ['evidence', 'checkpoint'],
  summary: "print the daemon's latest signed checkpoint note",
  usage: 'evidence checkpoint [--addr A --ca F --cert F --key F | --config F] [--json]',
  options: CLIENT_FLAGS,
  async run(values, _pos, io) {
    return withClients(values, io, async (c) => {
      const cp = await call<unknown, Checkpoint__Output>(c.evidence, 'GetCheckpoint', {});
      emit(
        io,
        values.json === true,
        { origin: cp.origin, size: Number(cp.size), root_hash: encodeBase64(cp.rootHash), note: cp.note.toString('utf8') },
        cp.note.toString('utf8'),
      );
      return EXIT.ok;
    });
  },
});

export const evidenceCommands: readonly Command[] = Object.freeze([evidenceKeyCommand, evidenceExportCommand, evidenceVerifyCommand, evidenceCheckpointCommand, evidenceRotateKeyCommand]);
