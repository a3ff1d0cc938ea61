import type { BrokerConfig } from '../../config/config-types';
import type { Clock } from '../../lib/clock';
import { unimplemented } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { GroupCommit } from '../../store/sqlite/group-commit';
import type { Store } from '../../store/store';
import { Ledger } from './ledger';
import type { LedgerStorage } from './ledger-storage';
import { ensureSigningKey } from './signing-key';
import { SqliteLedgerStorage } from './sqlite-ledger-storage';
import type Database from 'better-sqlite3';

export interface OpenEvidenceOptions {
  config: Pick<BrokerConfig, 'evidence' | 'devMode'>;
  /** The broker's state store: the ledger writes through its connection and group commit. */
  store: Store;
  clock: Clock;
  log: Logger;
  /** Tests shorten these; defaults 1 s and 5 min. */
  checkpointIntervalMs?: number;
  heartbeatIntervalMs?: number;
}

/** The evidence storage that shares `store`'s database and group commit. */
export function ledgerStorageFor(store: Store): LedgerStorage {
  const s = store as Store & { db?: Database.Database; writes?: GroupCommit };
  if (store.kind === 'sqlite' && s.db && s.writes) return new SqliteLedgerStorage(s.db, s.writes);
  throw unimplemented('the evidence log on this state store', 'a later issue');
}

/**
 * Everything `serve` does for evidence at start: create the signing key if it
 * is missing (0600), refuse a group- or world-readable one outside dev mode,
 * open the ledger (which refuses a stored tree that does not match its last
 * checkpoint) and start its checkpoint and heartbeat timers. Close the ledger
 * before the store.
 */
export async function openEvidence(opts: OpenEvidenceOptions): Promise<Ledger> {
  const { config, log } = opts;
  const { signer, created } = await ensureSigningKey(config.evidence.signingKey, config.evidence.origin, {
    allowInsecurePermissions: config.devMode,
    warn: (m) => log.warn(m),
  });
  if (created) log.info({ file: config.evidence.signingKey, verifier_key: signer.verifierKey }, 'created the evidence signing key (0600); back it up');
  const ledger = await Ledger.open({
    storage: ledgerStorageFor(opts.store),
    origin: config.evidence.origin,
    signer,
    clock: opts.clock,
    log,
    ...(opts.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: opts.checkpointIntervalMs } : {}),
    ...(opts.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: opts.heartbeatIntervalMs } : {}),
  });
  ledger.start();
  log.info({ origin: ledger.origin, size: ledger.size, key_id: ledger.keyId }, 'evidence log open');
  return ledger;
}
