import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeBundle } from '../../../../src/evidence/bundle';
import { verifyBundle } from '../../../../src/evidence/bundle-verify';
import { openCheckpoint, signCheckpoint } from '../../../../src/evidence/checkpoint';
import { rootAt } from '../../../../src/evidence/merkle';
import { formatKeyId, parseVerifierKey } from '../../../../src/evidence/note-key';
import { parseNote } from '../../../../src/evidence/signed-note';
import { verifyTlogProof } from '../../../../src/evidence/tlog-proof';
import { CheckpointCosigning, type CheckpointCosigner } from '../../../../src/evidence/ledger/checkpoint-cosigning';
import { SigningKeyFiles, keyFilesOf, openEvidenceKeys } from '../../../../src/evidence/ledger/key-history';
import { Ledger, type LedgerOptions } from '../../../../src/evidence/ledger/ledger';
import { SqliteLedgerStorage } from '../../../../src/evidence/ledger/sqlite-ledger-storage';
import { ManualClock } from '../../../../src/lib/clock';
import { BrokerError } from '../../../../src/lib/errors';
import { SqliteStore } from '../../../../src/store/sqlite/sqlite-store';
import { tempDir } from '../../../helpers/broker-harness';

const ORIGIN = 'test.example/secret-broker';
const HOUR = 3_600_000;

/** A ledger whose keys live in files, opened the way wire.ts opens it. */
class KeyedLedger {
  readonly tmp = tempDir('sb-rotation-');
  readonly keyPath = path.join(this.tmp.dir, 'evidence.key');
  readonly clock = new ManualClock(Date.UTC(2026, 4, 1));
  store!: SqliteStore;
  storage!: SqliteLedgerStorage;
  ledger!: Ledger;

  /** Opens the store (unless `openStore` already did) and the ledger over it. */
  openStore(): SqliteLedgerStorage {
    this.store = new SqliteStore({ path: path.join(this.tmp.dir, 'broker.db') });
    this.storage = new SqliteLedgerStorage(this.store.db, this.store.writes);
    return this.storage;
  }

  async open(over: Partial<LedgerOptions> = {}, storeOpen = false): Promise<Ledger> {
    if (!storeOpen) this.openStore();
    const keys = await openEvidenceKeys(this.keyPath, ORIGIN);
    this.ledger = await Ledger.open({
      storage: this.storage,
      origin: ORIGIN,
      signer: keys.signer,
      ...(keys.previous ? { previous: keys.previous } : {}),
      retiredKeys: keys.retired,
      keyStore: new SigningKeyFiles(this.keyPath, ORIGIN, HOUR),
      clock: this.clock,
      ...over,
    });
    return this.ledger;
  }

  async reopen(over: Partial<LedgerOptions> = {}): Promise<Ledger> {
    await this.close();
    return this.open(over);
  }

  async close(): Promise<void> {
    await this.ledger?.close();
    await this.store?.close();
  }

  async cleanup(): Promise<void> {
    await this.close().catch(() => undefined);
    this.tmp.cleanup();
  }

  async entries(type: string): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    for await (const e of this.storage.entries(0, await this.storage.size())) {
      const v = JSON.parse(e.bytes.toString('utf8')) as Record<string, unknown>;
      if (v['type'] === type) out.push(v);
    }
    return out;
  }
}

const signersOf = (note: Buffer): string[] => parseNote(note).signatures.map((s) => `${s.name}+${formatKeyId(s.keyId)}`);
const label = (vkey: string): string => vkey.split('+').slice(0, 2).join('+');

describe('evidence/ledger: signing-key rotation', function () {
  this.timeout(30_000);
  let fx: KeyedLedger;

  beforeEach(async () => {
    fx = new KeyedLedger();
    await fx.open();
  });
  afterEach(async () => fx.cleanup());

  it('records key.rotated, signs with both keys during the overlap, then with the new key alone', async () => {
    const oldKey = fx.ledger.verifierKey;
    await fx.ledger.append([{ type: 'heartbeat' }, { type: 'heartbeat' }]);
    const before = await fx.ledger.receipt(1);

    const r = await fx.ledger.rotateKey({ reason: 'yearly rotation', operator: 'alice' });
    assert.equal(r.previousVerifierKey, oldKey);
    assert.equal(fx.ledger.verifierKey, r.verifierKey);
    assert.equal(r.overlapUntil, fx.clock.now() + HOUR);
    const entry = JSON.parse((await fx.ledger.getEntry(r.ref.index)).bytes.toString()) as Record<string, unknown>;
    assert.deepEqual(
      { ...entry, id: undefined, time: undefined },
      {
        v: 1,
        type: 'key.rotated',
        origin: ORIGIN,
        index: r.ref.index,
        id: undefined,
        time: undefined,
        verifier_key: r.verifierKey,
        key_id: r.keyId,
        previous_verifier_key: oldKey,
        previous_key_id: formatKeyId(parseVerifierKey(oldKey).keyId),
        overlap_until: new Date(r.overlapUntil).toISOString(),
        operator: 'alice',
        reason: 'yearly rotation',
      },
    );
    // The checkpoint covering it: both keys, the new one first.
    assert.ok(r.checkpoint.size > r.ref.index);
    assert.deepEqual(signersOf(r.checkpoint.note), [label(r.verifierKey), label(oldKey)]);
    assert.equal(r.checkpoint.keyId, r.keyId);

    const both = [parseVerifierKey(oldKey), parseVerifierKey(r.verifierKey)];
    await fx.ledger.append([{ type: 'heartbeat' }]);
    const after = await fx.ledger.receipt(r.ref.index + 1);
    const e1 = (await fx.ledger.getEntry(1)).bytes;
    // Receipts from before and after the rotation verify with both keys pinned, and each with the key(s) that signed it.
    verifyTlogProof(before, e1, both);
    verifyTlogProof(after, (await fx.ledger.getEntry(r.ref.index + 1)).bytes, both);
    verifyTlogProof(after, (await fx.ledger.getEntry(r.ref.index + 1)).bytes, [parseVerifierKey(oldKey)]);
    verifyTlogProof(after, (await fx.ledger.getEntry(r.ref.index + 1)).bytes, [parseVerifierKey(r.verifierKey)]);
    assert.throws(() => verifyTlogProof(before, e1, [parseVerifierKey(r.verifierKey)]), /no signature by a known key/);

    // The overlap ends: the new key alone, and the previous private key is gone.
    fx.clock.advance(HOUR);
    await fx.ledger.append([{ type: 'heartbeat' }]);
    const late = await fx.ledger.signCheckpoint();
    assert.deepEqual(signersOf(late.note), [label(r.verifierKey)]);
    assert.ok(!fs.existsSync(keyFilesOf(fx.keyPath).prev));

    // A full export verifies with {old, new}, and with {new} alone.
    const out = path.join(fx.tmp.dir, 'bundle');
    await writeBundle(out, fx.ledger.bundleSource());
    assert.equal((await verifyBundle(out, { keys: [oldKey, r.verifierKey] })).size, late.size);
    assert.deepEqual((await verifyBundle(out, { keys: [r.verifierKey] })).logKeys, [label(r.verifierKey)]);

    // Restart: the integrity check accepts checkpoints by both keys from the history.
    await fx.reopen();
    assert.equal(fx.ledger.verifierKey, r.verifierKey);
    assert.equal((await fx.entries('key.rotated')).length, 1, 'a recorded rotation is not recorded again');
  });

  it('records a rotation the broker stopped before recording, signed by both keys, once', async () => {
    await fx.ledger.append([{ type: 'heartbeat' }]);
    const oldKey = fx.ledger.verifierKey;
    await fx.close();
    // The key files rotated, then the process died before the entry was appended.
    const { signer } = await openEvidenceKeys(fx.keyPath, ORIGIN);
    const { next } = await new SigningKeyFiles(fx.keyPath, ORIGIN, HOUR).rotate(signer, fx.clock.now());

    await fx.open();
    assert.equal(fx.ledger.verifierKey, next.verifierKey);
    const rotated = await fx.entries('key.rotated');
    assert.equal(rotated.length, 1);
    assert.equal(rotated[0]!['recovered'], true);
    assert.equal(rotated[0]!['verifier_key'], next.verifierKey);
    assert.deepEqual(signersOf(fx.ledger.latestCheckpoint().note), [label(next.verifierKey), label(oldKey)]);
    await fx.reopen();
    assert.equal((await fx.entries('key.rotated')).length, 1);
  });

  it('refuses to start when the last checkpoint covers the rotation but only the previous key signed it', async () => {
    const { signer: oldSigner } = await openEvidenceKeys(fx.keyPath, ORIGIN);
    await fx.ledger.rotateKey();
    await fx.ledger.append([{ type: 'heartbeat' }]);
    await fx.ledger.signCheckpoint();
    // A checkpoint the new key never signed (a forged or restored state), stored as the last one.
    const size = await fx.storage.size();
    const rootHash = await rootAt(size, fx.storage);
    await fx.storage.insertCheckpoint({
      size,
      rootHash,
      keyId: formatKeyId(oldSigner.keyId),
      note: signCheckpoint({ origin: ORIGIN, size, rootHash }, [oldSigner]),
      signedAt: fx.clock.now(),
    });
    await fx.close();
    const err = await fx.open().catch((e: unknown) => e);
    assert.ok(err instanceof BrokerError && err.kind === 'failed_precondition', String(err));
    assert.match(err.message, /covers the key\.rotated entry \d+ for the configured signing key [0-9a-f]{8}, but is signed only by the previous key/);
    await fx.store.close();
    fx.ledger = undefined as never;
  });

  it('refuses a rotation without a key store, and an overlong reason', async () => {
    const err = await fx.ledger.rotateKey({ reason: 'x'.repeat(300) }).catch((e: unknown) => e);
    assert.ok(err instanceof BrokerError && err.kind === 'invalid_argument', String(err));
    await fx.close();
    const keys = await openEvidenceKeys(fx.keyPath, ORIGIN);
    fx.ledger = await Ledger.open({ storage: fx.openStore(), origin: ORIGIN, signer: keys.signer, clock: fx.clock });
    const none = await fx.ledger.rotateKey().catch((e: unknown) => e);
    assert.ok(none instanceof BrokerError && none.kind === 'failed_precondition', String(none));
  });
});

describe('evidence/ledger/checkpoint-cosigning: witnesses in the background', function () {
  this.timeout(30_000);
  let fx: KeyedLedger;

  beforeEach(() => {
    fx = new KeyedLedger();
  });
  afterEach(async () => fx.cleanup());

  /** A cosigner that holds each call until released, adding a fake signature line. */
  class GatedCosigner implements CheckpointCosigner {
    readonly calls: number[] = [];
    #release: Array<() => void> = [];
    fail = false;
    async cosign(note: Buffer): Promise<{ note: Buffer; cosigned: number }> {
      this.calls.push(Number(parseNote(note).text.split('\n')[1]));
      await new Promise<void>((r) => this.#release.push(r));
      if (this.fail) return { note, cosigned: 0 };
      return { note: Buffer.concat([note, Buffer.from('\u2014 witness.example/w1 AAAAAQE=\n')]), cosigned: 1 };
    }
    release(): void {
      for (const r of this.#release.splice(0)) r();
    }
  }

  it('runs one request at a time, skips checkpoints signed meanwhile, and stores what was cosigned', async () => {
    const cosigner = new GatedCosigner();
    const witnessing = await CheckpointCosigning.open({ cosigner, storage: fx.openStore(), clock: fx.clock, origin: ORIGIN, logKeys: [] });
    await fx.open({ witnessing }, true);
    // Ledger.open signed the size-0 checkpoint; its request is held.
    assert.deepEqual(cosigner.calls, [0]);
    for (let i = 0; i < 5; i++) {
      await fx.ledger.append([{ type: 'heartbeat' }]);
      await fx.ledger.signCheckpoint();
    }
    assert.deepEqual(cosigner.calls, [0], 'appends and signing never wait for a witness');
    cosigner.release();
    while (cosigner.calls.length < 2) await new Promise((r) => setImmediate(r));
    assert.deepEqual(cosigner.calls, [0, 5], 'intermediate checkpoints are skipped');
    cosigner.release();
    await witnessing.idle();
    const latest = fx.ledger.latestCosignedCheckpoint()!;
    assert.equal(latest.size, 5);
    assert.match(latest.note.toString(), /witness\.example\/w1/);
    const stored = await fx.storage.latestCosignedCheckpoint();
    assert.deepEqual([stored?.size, stored?.cosigners, stored?.note.equals(latest.note)], [5, 1, true]);
    assert.equal((await fx.storage.cosignedCheckpointAtLeast(1))?.size, 5);
    // The table is append-only.
    assert.throws(() => fx.store.db.prepare('DELETE FROM evidence_cosigned_checkpoints').run(), /append-only/);

    // A round in which no witness cosigned stores nothing.
    cosigner.fail = true;
    await fx.ledger.append([{ type: 'heartbeat' }]);
    await fx.ledger.signCheckpoint();
    cosigner.release();
    await witnessing.idle();
    assert.equal(fx.ledger.latestCosignedCheckpoint()!.size, 5);

    // After a restart the newest stored cosigned note is served again (it opens with the log key).
    await fx.close();
    const keys = await openEvidenceKeys(fx.keyPath, ORIGIN);
    const again = await CheckpointCosigning.open({ cosigner, storage: fx.openStore(), clock: fx.clock, origin: ORIGIN, logKeys: [parseVerifierKey(keys.signer.verifierKey)] });
    assert.equal(again.latest()?.size, 5);
    assert.equal(openCheckpoint(again.latest()!.note, [parseVerifierKey(keys.signer.verifierKey)]).checkpoint.size, 5);
    await again.close();
  });
});
