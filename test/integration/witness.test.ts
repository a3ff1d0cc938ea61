import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { call } from '../../src/client/grpc-client';
import { openCheckpoint as openCp } from '../../src/evidence/checkpoint';
import { parseCosignatureVerifierKey } from '../../src/evidence/cosignature';
import { ensureSigningKey } from '../../src/evidence/ledger/signing-key';
import { openSqliteLedgerReadOnly } from '../../src/evidence/ledger/sqlite-ledger-storage';
import { parseVerifierKey } from '../../src/evidence/note-key';
import type { Checkpoint__Output } from '../../src/gen/secretbroker/v1/Checkpoint';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { createLogger } from '../../src/lib/logger';
import { CheckpointWitnesses } from '../../src/witness/checkpoint-witnesses';
import { LogCapture, baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';
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

describe('integration: the daemon gets its checkpoints cosigned by a real witness', function () {
  this.timeout(60_000);
  const DAEMON_ORIGIN = 'test.example/secret-broker';
  const wKey = generateCosignerKey('witness.example.org/w1');
  const strangerKey = generateCosignerKey('witness.example.org/never');
  let tmp: ReturnType<typeof tempDir>;
  let witness: Witness;
  let server: WitnessServer;
  let broker: RunningBroker;
  let cfgFile: string;
  let logKey: string;

  before(async () => {
    tmp = tempDir('sb-witnessed-');
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const dir = path.join(tmp.dir, 'broker');
    const raw = baseRawConfig(pki, dir);
    const evidence = raw['evidence'] as { origin: string; signing_key: string; witnesses?: unknown };
    // The log key exists before the daemon runs (as `evidence key` makes it), so the witness can trust it.
    logKey = (await ensureSigningKey(evidence.signing_key, DAEMON_ORIGIN)).signer.verifierKey;
    witness = await Witness.open({
      statePath: path.join(tmp.dir, 'witness', 'state.json'),
      signerKey: wKey.signerKey,
      logs: [{ origin: DAEMON_ORIGIN, key: logKey }],
      clock: systemClock,
    });
    server = await startWitnessServer({ witness, host: '127.0.0.1', port: 0 });
    evidence.witnesses = [{ url: server.url, key: wKey.verifierKey }];
    cfgFile = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfgFile, stringify(raw));
    broker = await startBroker({ pki, dir, raw });
  });
  after(async () => {
    await broker?.close();
    await server?.close();
    await witness?.close();
    tmp?.cleanup();
  });

  it('cosigns in the background; GetCheckpoint and the export carry the cosignature; verify demands the quorum', async () => {
    const agent = broker.clientFor('agents', 'support-bot');
    let last = 0;
    for (const t of ['T-1', 'T-2', 'T-3']) {
      const res = await call<unknown, LeaseResponse__Output>(agent.agent, 'RequestLease', {
        action: 'tickets.update',
        resource: `ticket/${t}`,
        params: { fields: { ticket: { stringValue: t } } },
      });
      assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
      last = Number(res.evidence!.index);
    }
    // Wait (the ledger signs within a second, the witness answers in milliseconds) for a cosigned checkpoint covering the grants.
    const verifiers = [parseVerifierKey(logKey), parseCosignatureVerifierKey(wKey.verifierKey)];
    let cp: Checkpoint__Output | undefined;
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const c = await call<unknown, Checkpoint__Output>(agent.evidence, 'GetCheckpoint', {});
      const opened = openCp(c.note, verifiers);
      if (opened.cosignatures.length === 1 && opened.checkpoint.size > last) {
        cp = c;
        break;
      }
    }
    assert.ok(cp, `no cosigned checkpoint covering entry ${last} arrived`);
    assert.equal(witness.latest(DAEMON_ORIGIN)?.size, Number(cp.size));

    const out = path.join(tmp.dir, 'export');
    const ex = await runCapture(['evidence', 'export', '--config', cfgFile, '--out', out, '--json']);
    assert.equal(ex.code, 0, ex.err);
    const summary = JSON.parse(ex.out) as { cosigned: boolean; size: number };
    assert.equal(summary.cosigned, true);
    // The whole export carries the one cosigned note, byte for byte.
    const note = fs.readFileSync(path.join(out, 'checkpoint.note'));
    assert.equal(openCp(note, verifiers).cosignatures.length, 1);
    for (const f of fs.readdirSync(path.join(out, 'proofs'))) {
      const proof = fs.readFileSync(path.join(out, 'proofs', f));
      assert.ok(proof.subarray(proof.length - note.length).equals(note), f);
    }

    const state = (n: string): string[] => ['--state', path.join(tmp.dir, `${n}.json`)];
    const ok = await runCapture(['evidence', 'verify', out, '--key', logKey, '--witness', wKey.verifierKey, '--min-witnesses', '1', ...state('s1')]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /witness quorum met: 1 of at least 1 \(witness\.example\.org\/w1\+[0-9a-f]{8}\)/);
    const okJson = await runCapture(['evidence', 'verify', out, '--key', logKey, '--witness', wKey.verifierKey, '--json', ...state('s2')]);
    assert.equal(okJson.code, 0, okJson.err);
    assert.deepEqual((JSON.parse(okJson.out) as { witness_quorum: { required: number; witnesses: string[] } }).witness_quorum.required, 1);

    // A witness that never cosigned cannot make the quorum.
    const never = await runCapture(['evidence', 'verify', out, '--key', logKey, '--witness', strangerKey.verifierKey, '--min-witnesses', '1', ...state('s3')]);
    assert.equal(never.code, 1);
    assert.match(never.err, /^secret-broker: evidence verify failed: checkpoint\.note: the checkpoint has valid cosignatures from 0 of the 1 configured witnesses; at least 1 required\n$/);

    // Bad flags are usage errors named after their flag.
    const logAsWitness = await runCapture(['evidence', 'verify', out, '--key', logKey, '--witness', logKey, ...state('s4')]);
    assert.equal(logAsWitness.code, 2);
    assert.match(logAsWitness.err, /^secret-broker: --witness: test\.example\/secret-broker\+[0-9a-f]{8} is not a witness cosigner key \(type 0x04\)/);
    const garbage = await runCapture(['evidence', 'verify', out, '--key', logKey, '--witness', 'nope', ...state('s5')]);
    assert.equal(garbage.code, 2);
    assert.match(garbage.err, /^secret-broker: --witness: verifier key: /);
    const tooMany = await runCapture(['evidence', 'verify', out, '--key', logKey, '--witness', wKey.verifierKey, '--min-witnesses', '2', ...state('s6')]);
    assert.equal(tooMany.code, 2);
    assert.match(tooMany.err, /^secret-broker: --min-witnesses: 2 needs at least 2 distinct --witness keys; 1 given/);
    assert.doesNotMatch(broker.logs.text, /"level":50/, 'no witness alarm in normal operation');
  });

  it('refuses to cosign a rolled-back log, end to end: the witness answers 400, the collector raises an alarm at error', async () => {
    // A checkpoint the daemon really signed and the witness cosigned; then the log grows and is cosigned again.
    const olderSize = witness.latest(DAEMON_ORIGIN)!.size;
    const db = openSqliteLedgerReadOnly(broker.config.state.kind === 'sqlite' ? broker.config.state.path : '');
    let older: Buffer;
    try {
      older = (await db.storage.checkpointAt(olderSize))!.note;
    } finally {
      db.close();
    }
    const agent = broker.clientFor('agents', 'support-bot');
    const res = await call<unknown, LeaseResponse__Output>(agent.agent, 'RequestLease', {
      action: 'tickets.update',
      resource: 'ticket/T-9',
      params: { fields: { ticket: { stringValue: 'T-9' } } },
    });
    assert.equal(res.status, 'GRANTED');
    for (const deadline = Date.now() + 15_000; Date.now() < deadline && witness.latest(DAEMON_ORIGIN)!.size <= olderSize; ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const witnessed = witness.latest(DAEMON_ORIGIN)!.size;
    assert.ok(witnessed > olderSize, 'the witness cosigned the grown log');

    // The log presents the older checkpoint again, as a rolled-back log would.
    const err = await requestCosignature(server.url, { oldSize: witnessed, proof: [], checkpointNote: older }).catch((e: unknown) => e);
    assert.ok(err instanceof WitnessRefusedError, String(err));
    assert.equal(err.status, 400);

    // A fresh collector (the daemon after a restart on a rolled-back database) learns the size and raises the alarm.
    const logs = new LogCapture();
    const collector = new CheckpointWitnesses({
      witnesses: [{ url: server.url, key: wKey.verifierKey }],
      consistencyProof: async () => [],
      log: createLogger({ level: 'debug', destination: logs }),
    });
    const r = await collector.cosign(older);
    assert.equal(r.cosigned, 0);
    assert.equal(r.outcomes[0]!.refused, true);
    assert.match(r.outcomes[0]!.error!, /rolled back/);
    assert.match(logs.text, /"level":50.*witness did not cosign/);
    assert.equal(witness.latest(DAEMON_ORIGIN)!.size, witnessed, 'the witness did not move');
  });
});
