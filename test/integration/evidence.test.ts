import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { buildApp, type App, type AppOptions } from '../../src/app';
import { call, connect, type BrokerClients } from '../../src/client/grpc-client';
import { compileConfig } from '../../src/config/compile';
import type { BrokerConfig } from '../../src/config/config-types';
import { openCheckpoint } from '../../src/evidence/checkpoint';
import { verifyConsistency } from '../../src/evidence/merkle';
import { parseVerifierKey } from '../../src/evidence/note-key';
import { verifyTlogProof } from '../../src/evidence/tlog-proof';
import type { Ledger } from '../../src/evidence/ledger/ledger';
import { openEvidence } from '../../src/evidence/ledger/wire';
import type { Checkpoint__Output } from '../../src/gen/secretbroker/v1/Checkpoint';
import type { ConsistencyProof__Output } from '../../src/gen/secretbroker/v1/ConsistencyProof';
import type { EvidenceEntry__Output } from '../../src/gen/secretbroker/v1/EvidenceEntry';
import type { Receipt__Output } from '../../src/gen/secretbroker/v1/Receipt';
import { systemClock } from '../../src/lib/clock';
import { createLogger } from '../../src/lib/logger';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { evidenceHandlers } from '../../src/transport/grpc/handlers/evidence-handlers';
import { LogCapture, baseRawConfig, makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';


async function expectCode(p: Promise<unknown>, want: grpc.status, msg?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, want, `expected ${grpc.status[want]}, got ${grpc.status[e.code]}: ${e.details}`);
    if (msg) assert.match(e.details, msg);
    return;
  }
  assert.fail(`expected ${grpc.status[want]}, got success`);
}

/** The daemon as the lead will wire it: the ledger over the app's SQLite store, its handlers on the Evidence service. */
async function startWithEvidence(config: BrokerConfig, logs: LogCapture): Promise<{ app: App; ledger: Ledger; close(): Promise<void> }> {
  const log = createLogger({ level: 'debug', destination: logs });
  const store = new SqliteStore({ path: (config.state as { path: string }).path });
  const ledger = await openEvidence({ config, store, clock: systemClock, log });
  // evidence: false keeps buildApp from opening a second ledger once it wires one itself.
  const opts: AppOptions & { evidence?: boolean } = { config, store, log, evidence: false, handlerOverrides: evidenceHandlers(ledger) };
  const app = await buildApp(opts);
  return {
    app,
    ledger,
    close: async () => {
      await ledger.close();
      await app.close();
    },
  };
}

describe('evidence over the real daemon and mTLS', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let cfgFile: string;
  let config: BrokerConfig;
  let daemon: Awaited<ReturnType<typeof startWithEvidence>>;
  let logs: LogCapture;
  const clients: BrokerClients[] = [];
  let vkey: string;

  const clientFor = (kind: 'agents' | 'operators', name: string): BrokerClients => {
    const e = pki.layout[kind][name]!;
    const c = connect({ addr: `127.0.0.1:${daemon.app.port}`, caPem: fs.readFileSync(pki.layout.caCert), certPem: fs.readFileSync(e.cert), keyPem: fs.readFileSync(e.key) });
    clients.push(c);
    return c;
  };

  before(async () => {
    tmp = tempDir('sb-evidence-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const raw = baseRawConfig(pki, tmp.dir);
    cfgFile = path.join(tmp.dir, 'config.yaml');
    fs.writeFileSync(cfgFile, stringify(raw));
    config = compileConfig(raw, cfgFile);
    // `evidence key` creates the signing key before the daemon ever ran, as `serve` would.
    const key = await runCapture(['evidence', 'key', '--config', cfgFile, '--json']);
    assert.equal(key.code, 0, key.err);
    const k = JSON.parse(key.out) as { verifier_key: string; created: boolean; origin: string };
    assert.equal(k.created, true);
    assert.equal(k.origin, 'test.example/secret-broker');
    vkey = k.verifier_key;
    assert.equal(fs.statSync(config.evidence.signingKey).mode & 0o777, 0o600);
    logs = new LogCapture();
    daemon = await startWithEvidence(config, logs);
    // What the broker will append around a lease: a decision and the lease it issued.
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        daemon.ledger.append([
          { type: 'decision', agent: 'support-bot', action: 'tickets.update', resource: `ticket/T-${i}`, decision: { effect: 'allow', policies: ['tickets-update-support'], policy_version: 'v1' } },
          { type: 'lease.issued', agent: 'support-bot', lease: { id: `lease_${i}`, expires_at: '2026-01-01T00:01:00.000Z' } },
        ]),
      ),
    );
  });
  after(async () => {
    for (const c of clients) c.close();
    await daemon?.close();
    tmp?.cleanup();
  });

  it('`evidence key` prints the same verifier key the daemon signs with, and does not recreate it', async () => {
    assert.equal(vkey, daemon.ledger.verifierKey);
    const again = await runCapture(['evidence', 'key', '--config', cfgFile]);
    assert.equal(again.code, 0, again.err);
    assert.equal(again.out.trim(), vkey);
    assert.equal(again.err, '');
  });

  for (const [kind, name] of [['agents', 'support-bot'], ['operators', 'bob']] as const) {
    it(`serves GetCheckpoint, GetEntry, GetReceipt and GetConsistencyProof to ${kind === 'agents' ? 'an agent' : 'an operator'} (${name}); receipts verify offline`, async () => {
      const c = clientFor(kind, name);
      const verifiers = [parseVerifierKey(vkey)];

      const entry = await call<unknown, EvidenceEntry__Output>(c.evidence, 'GetEntry', { index: '7' });
      assert.equal(entry.index, '7');
      assert.equal((JSON.parse(entry.entry.toString()) as { index: number }).index, 7);

      // No checkpoint need cover entry 49 yet: GetReceipt signs one on demand.
      const receipt = await call<unknown, Receipt__Output>(c.evidence, 'GetReceipt', { index: '49' });
      const last = await call<unknown, EvidenceEntry__Output>(c.evidence, 'GetEntry', { index: 49 });
      const v = verifyTlogProof(receipt.tlogProof, last.entry, verifiers, { origin: 'test.example/secret-broker' });
      assert.equal(v.index, 49);
      assert.ok(v.leafHash.equals(last.leafHash));

      const cp = await call<unknown, Checkpoint__Output>(c.evidence, 'GetCheckpoint', {});
      assert.equal(cp.origin, 'test.example/secret-broker');
      assert.ok(Number(cp.size) >= 50);
      const opened = openCheckpoint(cp.note, verifiers);
      assert.equal(String(opened.checkpoint.size), cp.size);
      assert.ok(opened.checkpoint.rootHash.equals(cp.rootHash));

      const r7 = await call<unknown, Receipt__Output>(c.evidence, 'GetReceipt', { index: '7', treeSize: cp.size });
      assert.equal(verifyTlogProof(r7.tlogProof, entry.entry, verifiers).checkpoint.size, Number(cp.size));

      await daemon.ledger.append([{ type: 'heartbeat' }]);
      const newer = await daemon.ledger.signCheckpoint();
      const proof = await call<unknown, ConsistencyProof__Output>(c.evidence, 'GetConsistencyProof', { firstSize: cp.size, secondSize: '0' });
      assert.equal(proof.firstSize, cp.size);
      assert.equal(proof.secondSize, String(newer.size));
      const second = openCheckpoint(proof.checkpoint, verifiers).checkpoint;
      assert.ok(verifyConsistency(Number(cp.size), second.size, proof.hashes, cp.rootHash, second.rootHash));
    });
  }

  it('answers bad indexes and sizes with INVALID_ARGUMENT or NOT_FOUND', async () => {
    const c = clientFor('agents', 'support-bot');
    await expectCode(call(c.evidence, 'GetEntry', { index: '100000' }), grpc.status.NOT_FOUND, /evidence entry 100000 not found: the log has \d+ entries/);
    await expectCode(call(c.evidence, 'GetEntry', { index: '18446744073709551615' }), grpc.status.INVALID_ARGUMENT, /index: must be a whole number below 2\^53/);
    await expectCode(call(c.evidence, 'GetReceipt', { index: '100000' }), grpc.status.NOT_FOUND);
    await expectCode(call(c.evidence, 'GetReceipt', { index: '1', treeSize: '3' }), grpc.status.NOT_FOUND, /no checkpoint was signed at tree size 3/);
    await expectCode(call(c.evidence, 'GetConsistencyProof', { firstSize: '0' }), grpc.status.INVALID_ARGUMENT, /first_size: must be at least 1/);
    await expectCode(call(c.evidence, 'GetConsistencyProof', { firstSize: '100000' }), grpc.status.INVALID_ARGUMENT, /larger than the second tree size/);
  });

  it('`evidence checkpoint` prints the latest signed note', async () => {
    const a = pki.layout.agents['support-bot']!;
    const env = { SECRET_BROKER_ADDR: `127.0.0.1:${daemon.app.port}`, SECRET_BROKER_CA: pki.layout.caCert, SECRET_BROKER_CERT: a.cert, SECRET_BROKER_KEY: a.key };
    const r = await runCapture(['evidence', 'checkpoint'], '', env);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, daemon.ledger.latestCheckpoint().note.toString());
    openCheckpoint(r.out, [parseVerifierKey(vkey)]);
    const j = await runCapture(['evidence', 'checkpoint', '--json'], '', env);
    assert.equal((JSON.parse(j.out) as { size: number }).size, daemon.ledger.latestCheckpoint().size);
  });

  it('`evidence export` while the daemon runs, then `evidence verify` offline; a changed entry fails naming it', async () => {
    await daemon.ledger.signCheckpoint();
    const out = path.join(tmp.dir, 'export-1');
    const state = path.join(tmp.dir, 'auditor', 'state.json');
    const ex = await runCapture(['evidence', 'export', '--config', cfgFile, '--out', out, '--json']);
    assert.equal(ex.code, 0, ex.err);
    const summary = JSON.parse(ex.out) as { size: number; entries: number; start: number };
    assert.equal(summary.start, 0);
    assert.equal(summary.entries, summary.size);
    assert.ok(fs.existsSync(path.join(out, 'checkpoint.note')));
    assert.ok(fs.existsSync(path.join(out, 'entries', '0.json')));
    assert.ok(fs.existsSync(path.join(out, 'proofs', '0.tlog-proof')));

    const ok = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', state, '--json']);
    assert.equal(ok.code, 0, ok.err);
    assert.equal((JSON.parse(ok.out) as { ok: boolean; size: number }).size, summary.size);
    const human = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', state]);
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /^OK: test\.example\/secret-broker checkpoint size \d+/);

    const file = path.join(out, 'entries', '12.json');
    fs.writeFileSync(file, fs.readFileSync(file).toString().replace('"support-bot"', '"support-bos"'));
    const bad = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', state]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^secret-broker: evidence verify failed: entry 12: /);
    assert.equal(bad.err.trim().split('\n').length, 1);
    const badJson = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', state, '--json']);
    assert.equal(badJson.code, 1);
    assert.equal((JSON.parse(badJson.out) as { index: number }).index, 12);

    const badKey = await runCapture(['evidence', 'verify', out, '--key', 'not-a-key', '--state', state]);
    assert.equal(badKey.code, 2);
    const noKey = await runCapture(['evidence', 'verify', out]);
    assert.equal(noKey.code, 2);
  });

  it('`evidence export --from/--to` writes a partial bundle that verifies with a consistency proof', async () => {
    const out = path.join(tmp.dir, 'export-2');
    const state = path.join(tmp.dir, 'auditor', 'state.json');
    await daemon.ledger.append([{ type: 'heartbeat' }]);
    await daemon.ledger.signCheckpoint();
    const previous = JSON.parse(fs.readFileSync(state, 'utf8')) as { accepted: Array<{ size: number }> };
    const prevSize = previous.accepted[0]!.size;
    const ex = await runCapture(['evidence', 'export', '--config', cfgFile, '--out', out, '--from', '10', '--consistency-from', String(prevSize), '--json']);
    assert.equal(ex.code, 0, ex.err);
    assert.equal((JSON.parse(ex.out) as { start: number }).start, 10);
    const ok = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', state, '--json']);
    assert.equal(ok.code, 0, ok.out + ok.err);
    const res = JSON.parse(ok.out) as { consistency: Array<{ how: string; previousSize: number }> };
    assert.deepEqual(res.consistency.map((c) => [c.how, c.previousSize]), [['proof', prevSize]]);

    const upTo = path.join(tmp.dir, 'export-3');
    const ranged = await runCapture(['evidence', 'export', '--config', cfgFile, '--out', upTo, '--from', '2', '--to', '5', '--json']);
    assert.equal(ranged.code, 0, ranged.err);
    const rs = JSON.parse(ranged.out) as { start: number; size: number };
    assert.equal(rs.start, 2);
    assert.ok(rs.size >= 6);
    const v = await runCapture(['evidence', 'verify', upTo, '--key', vkey, '--state', path.join(tmp.dir, 'fresh-state.json')]);
    assert.equal(v.code, 0, v.err);
  });

  it('keeps secrets and key material out of the logs', () => {
    const key = fs.readFileSync(config.evidence.signingKey, 'utf8').trim();
    // PRIVATE+KEY+<name>+<id>+<base64>: the base64 part may itself contain '+'.
    const secretPart = key.split('+').slice(4).join('+');
    assert.ok(secretPart.length >= 40, 'parsed the key string');
    assert.ok(!logs.text.includes(secretPart));
    assert.match(logs.text, /evidence log open/);
  });

  it('`evidence export` works with the daemon stopped, and the restarted daemon continues the log', async () => {
    const size = daemon.ledger.size;
    for (const c of clients.splice(0)) c.close();
    await daemon.close();
    const out = path.join(tmp.dir, 'export-offline');
    const ex = await runCapture(['evidence', 'export', '--config', cfgFile, '--out', out, '--json']);
    assert.equal(ex.code, 0, ex.err);
    assert.equal((JSON.parse(ex.out) as { size: number }).size, size, 'closing signed a final checkpoint');
    const ok = await runCapture(['evidence', 'verify', out, '--key', vkey, '--state', path.join(tmp.dir, 'auditor', 'state.json')]);
    assert.equal(ok.code, 0, ok.err);

    daemon = await startWithEvidence(config, new LogCapture());
    const [ref] = await daemon.ledger.append([{ type: 'heartbeat' }]);
    assert.equal(ref!.index, size);
  });
});
