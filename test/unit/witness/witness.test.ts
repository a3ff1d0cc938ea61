import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint, signCheckpoint } from '../../../src/evidence/checkpoint';
import { cosignatureTimestamp, generateCosignerKey, parseCosignatureVerifierKey, parseCosignerKey } from '../../../src/evidence/cosignature';
import { emptyRoot } from '../../../src/evidence/merkle-hash';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from '../../../src/evidence/note-key';
import { addSignatures } from '../../../src/evidence/signed-note';
import { ManualClock } from '../../../src/lib/clock';
import { BrokerError } from '../../../src/lib/errors';
import { Witness, type WitnessOptions } from '../../../src/witness/witness';
import { WitnessError, type WitnessErrorCode } from '../../../src/witness/witness-error';
import { readWitnessState } from '../../../src/witness/witness-state';
import { TestLog } from './test-log';

const ORIGIN = 'example.org/secret-broker';
const OTHER = 'example.org/other-log';

describe('witness/witness: cosigns only consistent growth', function () {
  this.timeout(30_000);
  const logKey = generateNoteKey(ORIGIN);
  const otherKey = generateNoteKey(OTHER);
  const witnessKey = generateCosignerKey('witness.example.org/w1');
  const cosigVerifier = parseCosignatureVerifierKey(witnessKey.verifierKey);
  const logVerifier = parseVerifierKey(logKey.verifierKey);
  const signer = parseSignerKey(logKey.signerKey);
  let tmp: string;
  let statePath: string;
  let clock: ManualClock;
  const open: Witness[] = [];
  let seq = 0;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'witness-'));
    statePath = path.join(tmp, `state-${seq++}`, 'witness.json');
    clock = new ManualClock(Date.UTC(2026, 2, 3, 4, 5, 6, 789));
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((w) => w.close()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function witness(over: Partial<WitnessOptions> = {}): Promise<Witness> {
    const w = await Witness.open({
      statePath,
      signerKey: witnessKey.signerKey,
      logs: [
        { origin: ORIGIN, key: logKey.verifierKey },
        { origin: OTHER, key: otherKey.verifierKey },
      ],
      clock,
      ...over,
    });
    open.push(w);
    return w;
  }

  async function refused(p: Promise<unknown>, code: WitnessErrorCode, reason?: string): Promise<WitnessError> {
    const err = await p.then(
      () => assert.fail(`cosigned; expected ${code}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WitnessError, `not a WitnessError: ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (reason !== undefined) assert.equal(err.reason, reason, err.message);
    return err;
  }

  it('cosigns a first checkpoint: the cosignature verifies with the library and is stamped by the clock', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(5);
    const note = await log.checkpoint();
    const r = await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: note });
    assert.equal(r.signatureLines.length, 1);
    assert.match(r.signatureLines[0]!, /^\u2014 witness\.example\.org\/w1 [A-Za-z0-9+/=]+\n$/);
    assert.equal(r.checkpoint.size, 5);

    const merged = Buffer.concat([note, Buffer.from(r.signatureLines.join(''))]);
    const opened = openCheckpoint(merged, [logVerifier, cosigVerifier], { origin: ORIGIN });
    assert.equal(opened.cosignatures.length, 1);
    assert.equal(opened.cosignatures[0]!.name, 'witness.example.org/w1');
    assert.equal(cosignatureTimestamp(opened.cosignatures[0]!.signature), Math.floor(clock.now() / 1000));
    // The cosigned note the witness keeps carries the log's signature and its own.
    const kept = openCheckpoint(r.cosignedNote, [logVerifier, cosigVerifier]);
    assert.equal(kept.logSignatures.length, 1);
    assert.equal(kept.cosignatures.length, 1);
    assert.equal(w.verifierKey, witnessKey.verifierKey);
  });

  it('cosigns consistent growth with a proof, and the same checkpoint again', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(5);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    await log.grow(12);
    const r = await w.addCheckpoint({ oldSize: 5, consistencyProof: await log.proof(5), checkpointNote: await log.checkpoint() });
    assert.equal(r.checkpoint.size, 17);
    clock.advance(60_000);
    const again = await w.addCheckpoint({ oldSize: 17, consistencyProof: [], checkpointNote: await log.checkpoint() });
    const opened = openCheckpoint(Buffer.concat([await log.checkpoint(), Buffer.from(again.signatureLines.join(''))]), [logVerifier, cosigVerifier]);
    assert.equal(cosignatureTimestamp(opened.cosignatures[0]!.signature), Math.floor(clock.now() / 1000));
    assert.equal(w.latest(ORIGIN)?.size, 17);
  });

  it('persists the new record before it returns the cosignature (0600)', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(3);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    await log.grow(4);
    const r = await w.addCheckpoint({ oldSize: 3, consistencyProof: await log.proof(3), checkpointNote: await log.checkpoint() });
    // The moment the cosignature is in hand, the file already says size 7: a crash now cannot roll the witness back.
    const onDisk = await readWitnessState(statePath);
    assert.equal(onDisk.get(ORIGIN)?.size, 7);
    assert.ok(onDisk.get(ORIGIN)?.rootHash.equals(await log.root()));
    assert.equal(onDisk.get(ORIGIN)?.note, r.cosignedNote.toString('utf8'));
    assert.equal(onDisk.get(ORIGIN)?.cosignedAt, clock.now());
    assert.equal(fs.statSync(statePath).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(path.dirname(statePath)).sort(), ['witness.json', 'witness.json.lock']);
  });

  it('returns no cosignature and remembers nothing when the state cannot be persisted', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(3);
    fs.mkdirSync(statePath); // rename over a directory fails
    await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() }), 'WITNESS_UNAVAILABLE', 'state-unwritable');
    assert.equal(w.latest(ORIGIN), undefined);
    fs.rmdirSync(statePath);
    const r = await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    assert.equal(r.checkpoint.size, 3);
  });

  it('refuses a rolled-back log: a smaller checkpoint (400) or a stale old size (409)', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(9);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    const smaller = await log.checkpoint(5);
    const e400 = await refused(w.addCheckpoint({ oldSize: 9, consistencyProof: [], checkpointNote: smaller }), 'WITNESS_MALFORMED', 'rollback');
    assert.equal(e400.httpStatus, 400);
    const e409 = await refused(w.addCheckpoint({ oldSize: 5, consistencyProof: [], checkpointNote: smaller }), 'WITNESS_CONFLICT');
    assert.equal(e409.witnessSize, 9);
    assert.equal(w.latest(ORIGIN)?.size, 9);
  });

  it('refuses a wrong old size with 409 carrying its recorded size', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(4);
    const first = await refused(w.addCheckpoint({ oldSize: 2, consistencyProof: await log.proof(2), checkpointNote: await log.checkpoint() }), 'WITNESS_CONFLICT');
    assert.equal(first.witnessSize, 0);
    assert.equal(first.httpStatus, 409);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    await log.grow(4);
    const e = await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() }), 'WITNESS_CONFLICT');
    assert.equal(e.witnessSize, 4);
    // Retrying from the size it reported works.
    await w.addCheckpoint({ oldSize: 4, consistencyProof: await log.proof(4), checkpointNote: await log.checkpoint() });
  });

  it('refuses a fork: the same size with another root', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(9);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    const fork = await new TestLog(ORIGIN, signer, 'fork').grow(9);
    const e = await refused(w.addCheckpoint({ oldSize: 9, consistencyProof: [], checkpointNote: await fork.checkpoint() }), 'WITNESS_INCONSISTENT', 'fork');
    assert.equal(e.httpStatus, 422);
    assert.ok(w.latest(ORIGIN)?.rootHash.equals(await log.root()));
  });

  it('refuses a fork: a larger tree whose proof comes from another tree', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(9);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    const fork = await new TestLog(ORIGIN, signer, 'fork').grow(14);
    // A well-formed proof, from the fork's own size-9 tree: it does not reach the witness's root.
    await refused(w.addCheckpoint({ oldSize: 9, consistencyProof: await fork.proof(9), checkpointNote: await fork.checkpoint() }), 'WITNESS_INCONSISTENT', 'fork');
    // A fork that shares the first 7 entries and diverges after them fails the same way.
    const divergent = await (await new TestLog(ORIGIN, signer).grow(7)).grow(8, 'diverged');
    await refused(
      w.addCheckpoint({ oldSize: 9, consistencyProof: await divergent.proof(9), checkpointNote: await divergent.checkpoint() }),
      'WITNESS_INCONSISTENT',
      'fork',
    );
    // And a proof of the wrong length is malformed.
    await refused(w.addCheckpoint({ oldSize: 9, consistencyProof: [], checkpointNote: await fork.checkpoint() }), 'WITNESS_INCONSISTENT', 'bad-proof');
    assert.equal(w.latest(ORIGIN)?.size, 9);
  });

  it('refuses a malformed proof and empty-tree violations with 422', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(6);
    const badEmpty = signCheckpoint({ origin: ORIGIN, size: 0, rootHash: Buffer.alloc(32, 7) }, [signer]);
    await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: badEmpty }), 'WITNESS_INCONSISTENT', 'bad-empty-root');
    const goodEmpty = signCheckpoint({ origin: ORIGIN, size: 0, rootHash: emptyRoot() }, [signer]);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: goodEmpty });
    await refused(
      w.addCheckpoint({ oldSize: 0, consistencyProof: [Buffer.alloc(32)], checkpointNote: await log.checkpoint() }),
      'WITNESS_INCONSISTENT',
      'proof-not-empty',
    );
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint(3) });
    const proof = await log.proof(3);
    await refused(w.addCheckpoint({ oldSize: 3, consistencyProof: proof.slice(1), checkpointNote: await log.checkpoint() }), 'WITNESS_INCONSISTENT', 'bad-proof');
    await refused(
      w.addCheckpoint({ oldSize: 3, consistencyProof: [Buffer.alloc(32), ...proof.slice(1)], checkpointNote: await log.checkpoint() }),
      'WITNESS_INCONSISTENT',
      'fork',
    );
    assert.equal(w.latest(ORIGIN)?.size, 3);
  });

  it('refuses a checkpoint signed by an unknown key (403), a bad signature (403) and an unknown origin (404)', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(2);
    const impostor = parseSignerKey(generateNoteKey(ORIGIN).signerKey);
    const e = await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint(2, [impostor]) }), 'WITNESS_BAD_SIGNATURE');
    assert.equal(e.httpStatus, 403);
    // A signature line with the trusted key's name and id that does not verify.
    const good = (await log.checkpoint()).toString('utf8');
    const tampered = good.replace(/ ([A-Za-z0-9+/]{10})([A-Za-z0-9+/])/, (_m, a: string, b: string) => ` ${a}${b === 'A' ? 'B' : 'A'}`);
    assert.notEqual(tampered, good);
    await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: tampered }), 'WITNESS_BAD_SIGNATURE', 'bad-signature');
    // Another log's origin signed by its own key, which this witness does not know.
    const stranger = generateNoteKey('example.org/stranger');
    const strangerLog = await new TestLog('example.org/stranger', parseSignerKey(stranger.signerKey)).grow(1);
    const e404 = await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await strangerLog.checkpoint() }), 'WITNESS_UNKNOWN_LOG');
    assert.equal(e404.httpStatus, 404);
    // Unknown extra signatures (another witness's cosignature) are ignored.
    const other = generateCosignerKey('witness.example.org/other');
    const withOther = addSignatures(await log.checkpoint(), [parseCosignerKey(other.signerKey, clock)]);
    await w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: withOther });
  });

  it('refuses malformed input with 400', async () => {
    const w = await witness();
    await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: 'not a note' }), 'WITNESS_MALFORMED');
    await refused(w.addCheckpoint({ oldSize: -1, consistencyProof: [], checkpointNote: 'x' }), 'WITNESS_MALFORMED', 'bad-old-size');
    await refused(w.addCheckpoint({ oldSize: 0, consistencyProof: Array.from({ length: 64 }, () => Buffer.alloc(32)), checkpointNote: 'x' }), 'WITNESS_MALFORMED', 'proof-too-long');
  });

  it('keeps its state across a restart', async () => {
    const w1 = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(6);
    await w1.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    await w1.close();
    open.splice(open.indexOf(w1), 1);

    const w2 = await witness();
    assert.equal(w2.latest(ORIGIN)?.size, 6);
    const e = await refused(w2.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint(2) }), 'WITNESS_CONFLICT');
    assert.equal(e.witnessSize, 6);
    await log.grow(3);
    await w2.addCheckpoint({ oldSize: 6, consistencyProof: await log.proof(6), checkpointNote: await log.checkpoint() });
    assert.equal((await readWitnessState(statePath)).get(ORIGIN)?.size, 9);
  });

  it('lets one process own a state file at a time', async () => {
    await witness();
    const err = await witness({ lockTimeoutMs: 50 }).then(
      () => assert.fail('opened twice'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BrokerError);
    assert.match(err.message, /in use by another witness/);
  });

  it('refuses to start on a malformed state file rather than forget', async () => {
    fs.mkdirSync(path.dirname(statePath), { recursive: true });
    fs.writeFileSync(statePath, '{"format":"secret-broker/witness-state@v1","logs":[{"origin":"x"}]}');
    await assert.rejects(witness(), /logs\[0\] is malformed/);
  });

  it('serializes requests per origin: of concurrent claims from size 0 exactly one wins', async () => {
    const w = await witness();
    const log = await new TestLog(ORIGIN, signer).grow(20);
    const other = await new TestLog(OTHER, parseSignerKey(otherKey.signerKey)).grow(4);
    const notes = await Promise.all(Array.from({ length: 20 }, (_, i) => log.checkpoint(i + 1)));
    const results = await Promise.allSettled([
      ...notes.map((n) => w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: n })),
      w.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await other.checkpoint() }),
    ]);
    const won = results.slice(0, 20).filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const r of results.slice(0, 20)) {
      if (r.status === 'rejected') assert.equal((r.reason as WitnessError).code, 'WITNESS_CONFLICT');
    }
    assert.equal(results[20]!.status, 'fulfilled');
    const onDisk = await readWitnessState(statePath);
    assert.equal(onDisk.get(ORIGIN)?.size, (won[0] as PromiseFulfilledResult<{ checkpoint: { size: number } }>).value.checkpoint.size);
    assert.equal(onDisk.get(OTHER)?.size, 4);
  });

  it('checks its configuration', async () => {
    await assert.rejects(witness({ logs: [{ origin: OTHER, key: logKey.verifierKey }] }), /not named after the origin/);
    await assert.rejects(witness({ logs: [] }), /at least one log/);
    await assert.rejects(witness({ signerKey: logKey.signerKey }), /witness key:/);
  });
});
