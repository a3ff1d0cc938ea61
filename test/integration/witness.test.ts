import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeBundle, type BundleEntry, type BundleSource } from '../../src/evidence/bundle';
import { BundleVerifyError, verifyBundle } from '../../src/evidence/bundle-verify';
import { canonicalize } from '../../src/evidence/canonical-json';
import { signCheckpoint } from '../../src/evidence/checkpoint';
import { generateCosignerKey } from '../../src/evidence/cosignature';
import { InMemoryTreeNodes } from '../../src/evidence/in-memory-tree-nodes';
import { consistencyProof, hashLeaf, inclusionProof, rootAt } from '../../src/evidence/merkle';
import { generateNoteKey, parseSignerKey } from '../../src/evidence/note-key';
import { systemClock } from '../../src/lib/clock';
import { Witness } from '../../src/witness/witness';
import { WitnessRefusedError, addCosignatureLines, requestCosignature } from '../../src/witness/witness-client';
import { startWitnessServer, type WitnessServer } from '../../src/witness/witness-server';

const ORIGIN = 'example.org/secret-broker';

/** The log: entries and tree nodes in memory, checkpoints signed with the library. */
class Log {
  readonly entries: Buffer[] = [];
  readonly nodes = new InMemoryTreeNodes();
  constructor(private readonly signer: ReturnType<typeof parseSignerKey>) {}

  async append(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const index = this.entries.length;
      const bytes = canonicalize({ v: 1, type: 'heartbeat', origin: ORIGIN, index, id: `e-${index}`, time: '2026-01-01T00:00:00.000Z' });
      this.entries.push(bytes);
      await this.nodes.append(hashLeaf(bytes));
    }
  }

  async checkpoint(size = this.entries.length): Promise<Buffer> {
    return signCheckpoint({ origin: ORIGIN, size, rootHash: await rootAt(size, this.nodes) }, [this.signer]);
  }

  source(note: Buffer, size: number): BundleSource {
    const { entries, nodes } = this;
    return {
      checkpointNote: async () => note,
      entries: async function* (start: number, end: number): AsyncGenerator<BundleEntry> {
        for (let i = start; i < end && i < size; i++) yield { index: i, bytes: entries[i]! };
      },
      inclusionProof: (index, s) => inclusionProof(index, s, nodes),
      consistencyProof: (a, b) => consistencyProof(a, b, nodes),
    };
  }
}

describe('integration: a witness over HTTP and a witnessed bundle', function () {
  this.timeout(60_000);
  const logKey = generateNoteKey(ORIGIN);
  const witnessKey = generateCosignerKey('witness.example.org/w1');
  let tmp: string;
  let witness: Witness;
  let server: WitnessServer;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'witness-it-'));
    witness = await Witness.open({
      statePath: path.join(tmp, 'witness', 'state.json'),
      signerKey: witnessKey.signerKey,
      logs: [{ origin: ORIGIN, key: logKey.verifierKey }],
      clock: systemClock,
    });
    server = await startWitnessServer({ witness, host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server?.close();
    await witness?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('cosigns growth, refuses a rollback, and its cosignature satisfies a verifier demanding one witness', async () => {
    const log = new Log(parseSignerKey(logKey.signerKey));
    await log.append(10);
    const first = await requestCosignature(server.url, { oldSize: 0, proof: [], checkpointNote: await log.checkpoint() }, { witnessKey: witnessKey.verifierKey });
    assert.equal(first.status, 'cosigned');

    await log.append(15);
    const note = await log.checkpoint();
    const grown = await requestCosignature(
      server.url,
      { oldSize: 10, proof: await consistencyProof(10, 25, log.nodes), checkpointNote: note },
      { witnessKey: witnessKey.verifierKey },
    );
    assert.ok(grown.status === 'cosigned');
    assert.equal(witness.latest(ORIGIN)?.size, 25);

    // The log tries to go back to size 12: with the witness's size as old size (400) or its own (409).
    const rolled = await log.checkpoint(12);
    const err = await requestCosignature(server.url, { oldSize: 25, proof: [], checkpointNote: rolled }).catch((e: unknown) => e);
    assert.ok(err instanceof WitnessRefusedError, String(err));
    assert.equal(err.status, 400);
    assert.deepEqual(await requestCosignature(server.url, { oldSize: 12, proof: [], checkpointNote: rolled }), { status: 'conflict', witnessSize: 25 });
    assert.equal(witness.latest(ORIGIN)?.size, 25);

    // A bundle whose checkpoint carries the cosignature passes a verifier that demands one witness.
    const cosigned = addCosignatureLines(note, grown.signatureLines);
    const good = path.join(tmp, 'bundle-cosigned');
    await writeBundle(good, log.source(cosigned, 25));
    const r = await verifyBundle(good, { keys: [logKey.verifierKey], witnesses: [witnessKey.verifierKey], minWitnesses: 1 });
    assert.equal(r.size, 25);
    assert.equal(r.entries, 25);
    assert.equal(r.witnessQuorum?.witnesses.length, 1);
    assert.equal(r.cosigners[0]?.name, 'witness.example.org/w1');

    // The same export without the cosignature does not.
    const bare = path.join(tmp, 'bundle-bare');
    await writeBundle(bare, log.source(note, 25));
    const fail = await verifyBundle(bare, { keys: [logKey.verifierKey], witnesses: [witnessKey.verifierKey], minWitnesses: 1 }).catch((e: unknown) => e);
    assert.ok(fail instanceof BundleVerifyError, String(fail));
    assert.equal(fail.reason, 'witness-quorum');
    assert.match(fail.message, /from 0 of the 1 configured witnesses; at least 1 required/);
    // Without a quorum demand it still verifies, as before.
    assert.equal((await verifyBundle(bare, { keys: [logKey.verifierKey] })).size, 25);
  });
});
