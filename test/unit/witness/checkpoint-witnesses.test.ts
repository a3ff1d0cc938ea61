import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint } from '../../../src/evidence/checkpoint';
import { generateCosignerKey, parseCosignatureVerifierKey } from '../../../src/evidence/cosignature';
import { generateNoteKey, parseSignerKey, parseVerifierKey } from '../../../src/evidence/note-key';
import { ManualClock } from '../../../src/lib/clock';
import { CheckpointWitnesses } from '../../../src/witness/checkpoint-witnesses';
import { Witness } from '../../../src/witness/witness';
import { startWitnessServer, type WitnessServer } from '../../../src/witness/witness-server';
import { TestLog } from './test-log';

const ORIGIN = 'example.org/secret-broker';

describe('witness/checkpoint-witnesses: the log collects cosignatures', function () {
  this.timeout(30_000);
  const logKey = generateNoteKey(ORIGIN);
  const signer = parseSignerKey(logKey.signerKey);
  const keys = [generateCosignerKey('w1.example'), generateCosignerKey('w2.example')];
  const clock = new ManualClock(Date.UTC(2026, 4, 1));
  let tmp: string;
  const running: Array<{ witness: Witness; server: WitnessServer }> = [];

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'witnesses-'));
    for (const [i, k] of keys.entries()) {
      const witness = await Witness.open({ statePath: path.join(tmp, `w${i}.json`), signerKey: k.signerKey, logs: [{ origin: ORIGIN, key: logKey.verifierKey }], clock });
      running.push({ witness, server: await startWitnessServer({ witness, host: '127.0.0.1', port: 0 }) });
    }
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      await r.server.close();
      await r.witness.close();
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const verifiers = (): ReturnType<typeof parseVerifierKey>[] => [parseVerifierKey(logKey.verifierKey), ...keys.map((k) => parseCosignatureVerifierKey(k.verifierKey))];

  it('gets every witness to cosign successive checkpoints, learning sizes from 409s', async () => {
    const log = await new TestLog(ORIGIN, signer).grow(3);
    // One witness already saw size 3 from another instance of the log: the collector starts at 0 and learns.
    await running[1]!.witness.addCheckpoint({ oldSize: 0, consistencyProof: [], checkpointNote: await log.checkpoint() });
    await log.grow(4);
    const w = new CheckpointWitnesses({
      witnesses: running.map((r, i) => ({ url: r.server.url, key: keys[i]!.verifierKey })),
      consistencyProof: (a, b) => log.proof(a, b),
    });
    const r1 = await w.cosign(await log.checkpoint());
    assert.equal(r1.cosigned, 2, JSON.stringify(r1.outcomes));
    assert.equal(openCheckpoint(r1.note, verifiers()).cosignatures.length, 2);
    await log.grow(10);
    const r2 = await w.cosign(await log.checkpoint());
    assert.equal(r2.cosigned, 2, JSON.stringify(r2.outcomes));
    assert.equal(running[0]!.witness.latest(ORIGIN)?.size, 17);
  });

  it('reports a witness that is down or refuses, and keeps the others', async () => {
    const log = await new TestLog(ORIGIN, signer).grow(5);
    const down = running[1]!;
    await down.server.close();
    const w = new CheckpointWitnesses({
      witnesses: [
        { url: running[0]!.server.url, key: keys[0]!.verifierKey },
        { url: down.server.url, key: keys[1]!.verifierKey },
      ],
      consistencyProof: (a, b) => log.proof(a, b),
      timeoutMs: 2000,
    });
    const r = await w.cosign(await log.checkpoint());
    assert.equal(r.cosigned, 1);
    assert.equal(r.outcomes[1]!.cosigned, false);
    assert.match(r.outcomes[1]!.error!, /cannot reach the witness/);
    assert.equal(r.outcomes[1]!.refused, undefined);
    assert.equal(openCheckpoint(r.note, verifiers()).cosignatures.length, 1);

    // A fork of the log is refused on the merits, and flagged as such.
    const fork = await new TestLog(ORIGIN, signer, 'fork').grow(5);
    const f = await w.cosign(await fork.checkpoint());
    assert.equal(f.outcomes[0]!.cosigned, false);
    assert.equal(f.outcomes[0]!.refused, true);
    assert.match(f.outcomes[0]!.error!, /HTTP 422/);
    // A rolled-back log: the witness is ahead of the checkpoint.
    const rolled = await w.cosign(await log.checkpoint(2));
    assert.equal(rolled.outcomes[0]!.refused, true);
    assert.match(rolled.outcomes[0]!.error!, /HTTP 400|larger than this checkpoint/);
  });
});
