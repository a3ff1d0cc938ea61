import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import { openCheckpoint } from '../../src/evidence/checkpoint';
import { keyFilesOf } from '../../src/evidence/ledger/key-history';
import { formatKeyId, parseVerifierKey } from '../../src/evidence/note-key';
import { parseNote } from '../../src/evidence/signed-note';
import { verifyTlogProof } from '../../src/evidence/tlog-proof';
import type { Checkpoint__Output } from '../../src/gen/secretbroker/v1/Checkpoint';
import type { EvidenceEntry__Output } from '../../src/gen/secretbroker/v1/EvidenceEntry';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { Receipt__Output } from '../../src/gen/secretbroker/v1/Receipt';
import type { Clock } from '../../src/lib/clock';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki, cliEnv } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';
import { assertCliRefusal, expectRefused } from '../helpers/expect-denial';

const ORIGIN = 'test.example/secret-broker';
const HOUR = 3_600_000;

/** Real time, plus a jump the test controls (to get past the key overlap). */
class ShiftedClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

const signers = (note: Buffer | string): string[] => parseNote(note).signatures.map((s) => `${s.name}+${formatKeyId(s.keyId)}`);
const label = (vkey: string): string => vkey.split('+').slice(0, 2).join('+');

describe('evidence signing-key rotation over the real daemon and mTLS', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let raw: Record<string, unknown>;
  let cfgFile: string;
  let broker: RunningBroker;
  const clock = new ShiftedClock();
  let agent: BrokerClients;

  const env = (operator: string): NodeJS.ProcessEnv => cliEnv(broker.addr, pki, 'operators', operator);

  async function grant(ticket: string): Promise<number> {
    const res = await call<unknown, LeaseResponse__Output>(agent.agent, 'RequestLease', {
      action: 'tickets.update',
      resource: `ticket/${ticket}`,
      params: { fields: { ticket: { stringValue: ticket } } },
      ttlSeconds: 300,
    });
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    return Number(res.evidence!.index);
  }

  const receipt = async (index: number): Promise<{ proof: Buffer; entry: Buffer }> => {
    const r = await call<unknown, Receipt__Output>(agent.evidence, 'GetReceipt', { index: String(index) });
    const e = await call<unknown, EvidenceEntry__Output>(agent.evidence, 'GetEntry', { index: String(index) });
    return { proof: r.tlogProof, entry: e.entry };
  };

  async function exportAndVerify(name: string, keys: string[]): Promise<{ code: number; out: string; err: string; note: string }> {
    const out = path.join(tmp.dir, name);
    const ex = await runCapture(['evidence', 'export', '--config', cfgFile, '--out', out, '--json']);
    assert.equal(ex.code, 0, ex.err);
    const v = await runCapture(['evidence', 'verify', out, ...keys.flatMap((k) => ['--key', k]), '--state', path.join(tmp.dir, `${name}-state.json`)]);
    return { ...v, note: fs.readFileSync(path.join(out, 'checkpoint.note'), 'utf8') };
  }

  before(async () => {
    tmp = tempDir('sb-rotation-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const dir = path.join(tmp.dir, 'broker');
    raw = baseRawConfig(pki, dir);
    (raw['evidence'] as Record<string, unknown>)['key_overlap'] = '1h';
    cfgFile = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfgFile, stringify(raw));
    broker = await startBroker({ pki, dir, raw, clock });
    agent = broker.clientFor('agents', 'support-bot');
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('rotates through `evidence rotate-key` (admin only); receipts from before and after verify with both keys; exports verify; a restart checks the history', async () => {
    const oldKey = broker.app.ledger!.verifierKey;
    const first = await grant('T-1');
    const before = await receipt(first);
    assert.deepEqual(signers(before.proof.subarray(before.proof.indexOf('\n\n') + 2)), [label(oldKey)]);

    // bob is an approver, not an admin.
    const denied = await runCapture(['evidence', 'rotate-key', '--reason', 'not mine to do'], '', env('bob'));
    assert.equal(denied.code, 3, denied.err);
    assertCliRefusal(denied.err, /this RPC requires the operator role "admin"/);
    await expectRefused(call(broker.clientFor('operators', 'carol').operator, 'RotateEvidenceKey', {}));
    assert.equal(broker.app.ledger!.verifierKey, oldKey);

    const rotated = await runCapture(['evidence', 'rotate-key', '--reason', 'scheduled rotation', '--json'], '', env('alice'));
    assert.equal(rotated.code, 0, rotated.err);
    const r = JSON.parse(rotated.out) as { verifier_key: string; previous_verifier_key: string; overlap_until: string; evidence: { origin: string; index: number } };
    const newKey = r.verifier_key;
    assert.notEqual(newKey, oldKey);
    assert.equal(r.previous_verifier_key, oldKey);
    assert.equal(r.evidence.origin, ORIGIN);
    assert.ok(Math.abs(Date.parse(r.overlap_until) - (clock.now() + HOUR)) < 60_000);
    assert.equal(broker.app.ledger!.verifierKey, newKey);
    assert.equal(parseVerifierKey(newKey).name, ORIGIN);

    // The key.rotated entry is in the log, holding the new key and naming the old one.
    const e = await call<unknown, EvidenceEntry__Output>(agent.evidence, 'GetEntry', { index: String(r.evidence.index) });
    const entry = JSON.parse(e.entry.toString('utf8')) as Record<string, unknown>;
    assert.equal(entry['type'], 'key.rotated');
    assert.equal(entry['verifier_key'], newKey);
    assert.equal(entry['previous_key_id'], formatKeyId(parseVerifierKey(oldKey).keyId));
    assert.equal(entry['operator'], 'alice');
    assert.equal(entry['reason'], 'scheduled rotation');
    // No private key material anywhere in the evidence or the logs.
    const keyFile = fs.readFileSync(broker.config.evidence.signingKey, 'utf8').trim();
    const secretPart = keyFile.split('+').slice(4).join('+');
    assert.ok(!e.entry.toString().includes(secretPart) && !broker.logs.text.includes(secretPart));
    assert.equal(fs.statSync(keyFilesOf(broker.config.evidence.signingKey).prev).mode & 0o777, 0o600);

    // Receipts from before and after the rotation verify with both keys pinned.
    const both = [parseVerifierKey(oldKey), parseVerifierKey(newKey)];
    const second = await grant('T-2');
    const after = await receipt(second);
    const againFirst = await receipt(first);
    for (const rc of [before, after, againFirst]) verifyTlogProof(rc.proof, rc.entry, both, { origin: ORIGIN });
    assert.deepEqual(signers(after.proof.subarray(after.proof.indexOf('\n\n') + 2)), [label(newKey), label(oldKey)]);
    // During the overlap an auditor who pinned only the old key still verifies new receipts.
    verifyTlogProof(after.proof, after.entry, [parseVerifierKey(oldKey)]);
    assert.throws(() => verifyTlogProof(before.proof, before.entry, [parseVerifierKey(newKey)]), /no signature by a known key/);

    // `evidence key` now prints the new key and lists the retired one.
    const k = await runCapture(['evidence', 'key', '--config', cfgFile, '--json']);
    assert.equal(k.code, 0, k.err);
    assert.deepEqual(JSON.parse(k.out), {
      origin: ORIGIN,
      key_id: formatKeyId(parseVerifierKey(newKey).keyId),
      verifier_key: newKey,
      retired_verifier_keys: [oldKey],
      signing_key_file: broker.config.evidence.signingKey,
      created: false,
    });

    // An export during the overlap verifies with {old, new}.
    const during = await exportAndVerify('export-overlap', [oldKey, newKey]);
    assert.equal(during.code, 0, during.err);
    assert.deepEqual(signers(during.note), [label(newKey), label(oldKey)]);

    // Past the overlap: the new key signs alone, and an export verifies with {new} alone.
    clock.offset += 2 * HOUR;
    const third = await grant('T-3');
    await receipt(third);
    const late = await exportAndVerify('export-late', [newKey]);
    assert.equal(late.code, 0, late.err);
    assert.deepEqual(signers(late.note), [label(newKey)]);
    assert.ok(!fs.existsSync(keyFilesOf(broker.config.evidence.signingKey).prev), 'the old private key is deleted after the overlap');
    const withBoth = await exportAndVerify('export-late-both', [oldKey, newKey]);
    assert.equal(withBoth.code, 0, withBoth.err);
    const oldOnly = await exportAndVerify('export-late-old', [oldKey]);
    assert.equal(oldOnly.code, 1);
    assert.match(oldOnly.err, /not signed by a known log key|no signature by a known key/);

    // A restart runs the integrity check with the key history and carries on with the new key.
    await broker.close();
    broker = await startBroker({ pki, dir: path.dirname(cfgFile), raw, clock });
    agent = broker.clientFor('agents', 'support-bot');
    assert.equal(broker.app.ledger!.verifierKey, newKey);
    assert.match(broker.logs.text, /evidence log checked against its signed checkpoints/);
    const cp = await call<unknown, Checkpoint__Output>(agent.evidence, 'GetCheckpoint', {});
    openCheckpoint(cp.note, [parseVerifierKey(newKey)], { origin: ORIGIN });
    const fourth = await grant('T-4');
    const rc = await receipt(fourth);
    verifyTlogProof(rc.proof, rc.entry, both);
    const restarted = await exportAndVerify('export-restarted', [oldKey, newKey]);
    assert.equal(restarted.code, 0, restarted.err);
  });
});
