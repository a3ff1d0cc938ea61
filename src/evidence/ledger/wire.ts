import { readFileSync } from 'node:fs';
import type { Metrics } from '../../metrics/metrics';
import type { BrokerConfig } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import { BrokerError, unimplemented } from '../../lib/errors';
import type { IdSource } from '../../lib/ids';
import type { Logger } from '../../lib/logger';
import type { GroupCommit } from '../../store/sqlite/group-commit';
import type { Store } from '../../store/store';
import { CheckpointWitnesses } from '../../witness/checkpoint-witnesses';
import { consistencyProof } from '../merkle';
import { parseVerifierKey } from '../note-key';
import { CheckpointCosigning } from './checkpoint-cosigning';
import { SigningKeyFiles, openEvidenceKeys } from './key-history';
import { Ledger } from './ledger';
import type { CosignedCheckpointStorage, LedgerStorage } from './ledger-storage';
import { SqliteLedgerStorage } from './sqlite-ledger-storage';
import type Database from 'better-sqlite3';

/** Per witness request; a slow witness holds up nothing but the next cosigning round. */
const WITNESS_TIMEOUT_MS = 5000;

export interface OpenEvidenceOptions {
  config: Pick<BrokerConfig, 'evidence' | 'devMode'>;
  /** The broker's state store: the ledger writes through its connection and group commit. */
  store: Store;
  clock: Clock;
  log: Logger;
  /** Where entry ids come from (the composition root's IdSource). */
  ids?: Pick<IdSource, 'randomPoolBytes'>;
  /** Tests shorten these; defaults 1 s and 5 min. */
  checkpointIntervalMs?: number;
  heartbeatIntervalMs?: number;
  /** Evidence commits and witness failures (src/metrics); default none. */
  metrics?: Pick<Metrics, 'evidenceCommitted' | 'witnessFailure'>;
}

/** The evidence storage that shares `store`'s database and group commit. */
export function ledgerStorageFor(store: Store): LedgerStorage & CosignedCheckpointStorage {
  const s = store as Store & { db?: Database.Database; writes?: GroupCommit };
  if (store.kind === 'sqlite' && s.db && s.writes) return new SqliteLedgerStorage(s.db, s.writes);
  throw unimplemented('the evidence log on this state store', 'a later issue');
}

/**
 * Everything `serve` does for evidence at start: finish or discard an
 * interrupted key rotation, create the signing key if it is missing and the
 * log never rotated (0600), refuse a group- or world-readable key file outside
 * dev mode and one that does not match the key history, open the ledger
 * (which refuses a stored tree that does not match its last checkpoint), wire
 * the configured witnesses, and start its checkpoint and heartbeat timers.
 * Close the ledger before the store.
 */
export async function openEvidence(opts: OpenEvidenceOptions): Promise<Ledger> {
  const { config, log, clock } = opts;
  const { origin, signingKey } = config.evidence;
  const keyOpts = { allowInsecurePermissions: config.devMode, warn: (m: string) => log.warn(m) };
  const keys = await openEvidenceKeys(signingKey, origin, { ...keyOpts, log });
  if (keys.created) log.info({ file: signingKey, verifier_key: keys.signer.verifierKey }, 'created the evidence signing key (0600); back it up');
  const storage = ledgerStorageFor(opts.store);
  const witnessing = config.evidence.witnesses.length > 0 ? await openWitnessing(opts, storage, [keys.signer.verifierKey, ...keys.retired]) : undefined;
  let ledger: Ledger;
  try {
    ledger = await Ledger.open({
      storage,
      origin,
      signer: keys.signer,
      ...(keys.previous ? { previous: keys.previous } : {}),
      retiredKeys: keys.retired,
      keyStore: new SigningKeyFiles(signingKey, origin, config.evidence.keyOverlapMs, keyOpts),
      ...(witnessing ? { witnessing } : {}),
      clock,
      log,
      ...(opts.ids ? { ids: opts.ids } : {}),
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      ...(opts.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: opts.checkpointIntervalMs } : {}),
      ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
    });
  } catch (err) {
    await witnessing?.close();
    throw err;
  }
  ledger.start();
  log.info({ origin: ledger.origin, size: ledger.size, key_id: ledger.keyId, witnesses: config.evidence.witnesses.length }, 'evidence log open');
  return ledger;
}

async function openWitnessing(opts: OpenEvidenceOptions, storage: LedgerStorage & CosignedCheckpointStorage, logKeys: readonly string[]): Promise<CheckpointCosigning> {
  const { config, log, clock } = opts;
  const endpoints = config.evidence.witnesses.map((w) => {
    if (w.ca === undefined) return { url: w.url, key: w.key };
    try {
      return { url: w.url, key: w.key, ca: readFileSync(w.ca) };
    } catch (err) {
      throw new BrokerError('failed_precondition', `evidence.witnesses: cannot read the CA file ${w.ca} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
  });
  const witnesses = new CheckpointWitnesses({
    witnesses: endpoints,
    consistencyProof: (size1, size2) => consistencyProof(size1, size2, storage),
    timeoutMs: WITNESS_TIMEOUT_MS,
    log,
  });
  const metrics = opts.metrics;
  // Each witness that did not cosign is counted (by its configured URL).
  const cosigner = metrics
    ? {
        cosign: async (note: Buffer): ReturnType<CheckpointWitnesses['cosign']> => {
          const r = await witnesses.cosign(note);
          for (const o of r.outcomes) if (!o.cosigned) metrics.witnessFailure(o.url);
          return r;
        },
      }
    : witnesses;
  return CheckpointCosigning.open({ cosigner, storage, clock, log, origin: config.evidence.origin, logKeys: logKeys.map(parseVerifierKey) });
}
