import * as path from 'node:path';
import { generateNoteKey, parseSignerKey } from '../../../../src/evidence/note-key';
import type { EvidenceDraft } from '../../../../src/evidence/ledger/evidence-sink';
import { Ledger, type LedgerOptions } from '../../../../src/evidence/ledger/ledger';
import { SqliteLedgerStorage } from '../../../../src/evidence/ledger/sqlite-ledger-storage';
import { ManualClock } from '../../../../src/lib/clock';
import { SqliteStore } from '../../../../src/store/sqlite/sqlite-store';
import { tempDir } from '../../../helpers/broker-harness';

export const ORIGIN = 'test.example/secret-broker';

/** A small allow decision for ticket T-i: the entry the ledger tests append. */
export const decision = (i: number): EvidenceDraft => ({
  type: 'decision',
  agent: 'support-bot',
  action: 'tickets.update',
  resource: `ticket/T-${i}`,
  decision: { effect: 'allow', policies: ['p1'], policy_version: 'v1' },
});

/** A key pair for the test log: the signer plus the vkey an auditor would hold. */
export function testKey(origin = ORIGIN): { signer: ReturnType<typeof parseSignerKey>; verifierKey: string } {
  const k = generateNoteKey(origin);
  return { signer: parseSignerKey(k.signerKey), verifierKey: k.verifierKey };
}

/** A SqliteStore in a temp dir, a ledger over it, and ways to reopen both. */
export class LedgerFixture {
  readonly tmp = tempDir('sb-ledger-');
  readonly file = path.join(this.tmp.dir, 'state', 'broker.db');
  readonly clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  readonly key = testKey();
  store!: SqliteStore;
  ledger!: Ledger;

  async open(over: Partial<LedgerOptions> = {}): Promise<Ledger> {
    this.store = new SqliteStore({ path: this.file });
    this.ledger = await Ledger.open({
      storage: new SqliteLedgerStorage(this.store.db, this.store.writes),
      origin: ORIGIN,
      signer: this.key.signer,
      clock: this.clock,
      ...over,
    });
    return this.ledger;
  }

  async reopen(over: Partial<LedgerOptions> = {}): Promise<Ledger> {
    await this.closeAll();
    return this.open(over);
  }

  async closeAll(): Promise<void> {
    await this.ledger?.close();
    await this.store?.close();
  }

  async cleanup(): Promise<void> {
    await this.closeAll().catch(() => undefined);
    this.tmp.cleanup();
  }
}
