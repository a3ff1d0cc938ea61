import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ensureMasterKey, openLocalBackend } from '../../src/backends/local';
import { call } from '../../src/client/grpc-client';
import { writeBundle } from '../../src/evidence/bundle';
import { verifyBundle } from '../../src/evidence/bundle-verify';
import type { Ledger } from '../../src/evidence/ledger/ledger';
import { parseVerifierKey } from '../../src/evidence/note-key';
import { verifyTlogProof } from '../../src/evidence/tlog-proof';
import type { EvidenceEntry__Output } from '../../src/gen/secretbroker/v1/EvidenceEntry';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { Receipt__Output } from '../../src/gen/secretbroker/v1/Receipt';
import { systemClock } from '../../src/lib/clock';
import { SecretValue } from '../../src/lib/secret-value';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { startGatedUpstream, type GatedUpstream } from '../helpers/gated-upstream';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { WriteFaults } from '../helpers/write-faults';

/*
 * Invariant 3, "fail closed, recover open", through a store that injects
 * write faults into the running daemon's real SQLite database: while the log
 * cannot be written, requests get UNAVAILABLE and nothing is released or sent;
 * once it can, the same requests succeed without a restart and the log has no
 * gaps.
 */

const TOKEN = 'hd_live_diskfull_7Qm2Xw9Lp4Rz';

interface Entry {
  type: string;
  index: number;
  action?: string;
  lease?: { id: string; use?: number };
  outcome?: string;
  delivered?: boolean;
  [k: string]: unknown;
}

async function expectUnavailable(p: Promise<unknown>, what: string): Promise<grpc.ServiceError> {
  const err = await p.then(
    (r) => assert.fail(`${what}: expected UNAVAILABLE, got ${JSON.stringify(r)}`),
    (e: grpc.ServiceError) => e,
  );
  assert.equal(err.code, grpc.status.UNAVAILABLE, `${what}: expected UNAVAILABLE, got ${grpc.status[err.code]}: ${err.details}`);
  assert.doesNotMatch(err.details, /SQLITE|disk is full|broker\.db/i, `${what}: backend text leaked`);
  return err;
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('disk full: fail closed, recover open (invariant 3)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let upstream: HttpsUpstream;
  let gated: GatedUpstream;
  let store: SqliteStore;
  let ledger: Ledger;
  let faults: WriteFaults;
  let leaseBefore: string;
  const granted = new Map<string, number>();

  before(async () => {
    tmp = tempDir('sb-diskfull-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' } });
    gated = await startGatedUpstream();
    const caFile = path.join(tmp.dir, 'upstream-ca.pem');
    writeFileSync(caFile, `${upstream.caPem}\n${gated.caPem}`);
    const raw = baseRawConfig(pki, tmp.dir);
    const http = (port: number, extra: Record<string, unknown>) => ({
      base_url: `https://127.0.0.1:${port}`,
      ca_files: [caFile],
      auth: { bearer: 'helpdesk-token' },
      allow_networks: ['127.0.0.0/8'],
      ...extra,
    });
    raw['actions'] = {
      'tickets.update': { http: http(upstream.port, { methods: ['PUT', 'GET'], paths: ['/tickets/{id}'], context: { ticket: 'path.id' } }), resource: 'ticket/{ticket}', max_uses: 10 },
      'gated.call': { http: http(gated.port, { methods: ['GET'], paths: ['/call'] }) },
      'gated.slow': { http: http(gated.port, { methods: ['GET'], paths: ['/slow'], timeout: '2s' }) },
    };
    writeFileSync(
      path.join(String(raw['policies']), 'test-gated.cedar'),
      ['gated.call', 'gated.slow'].map((a) => `@id("${a}-support") @reason("test") permit (principal in Group::"support", action == Action::"${a}", resource);`).join('\n'),
    );
    const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
    await ensureMasterKey(local.key_file, { sealedFile: local.path });
    const secrets = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
    await secrets.put('helpdesk-token', SecretValue.fromString(TOKEN));
    await secrets.close();
    broker = await startBroker({ pki, dir: tmp.dir, raw });
    assert.ok(broker.app.store instanceof SqliteStore, 'the daemon runs on the real SQLite store');
    store = broker.app.store;
    ledger = broker.app.ledger!;
    faults = new WriteFaults(store);
  });
  after(async () => {
    faults?.clear();
    gated?.release();
    await broker?.close();
    await upstream?.close();
    await gated?.close();
    tmp?.cleanup();
  });
  afterEach(() => faults.clear());

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  const requestLease = (ticket: string) =>
    call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', {
      action: 'tickets.update',
      resource: `ticket/${ticket}`,
      params: { fields: { ticket: { stringValue: ticket } } },
      maxUses: 10,
    });
  const invokeLeased = (id: string, ticket: string) => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { leaseId: id, method: 'GET', path: `/tickets/${ticket}` });
  const invokeOneShot = (ticket: string) =>
    call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { action: 'tickets.update', resource: `ticket/${ticket}`, method: 'GET', path: `/tickets/${ticket}` });
  const leaseRows = async () => new Map((await store.listLeases({ limit: 1000 })).map((l) => [l.id, l]));
  const openIntents = () => store.db.prepare('SELECT lease_id, use_no FROM evidence_open_intents').all() as Array<{ lease_id: string; use_no: number }>;
  const entriesOfType = (type: string): Entry[] =>
    (store.db.prepare('SELECT bytes FROM evidence_entries WHERE type = ? ORDER BY idx').pluck().all(type) as Buffer[]).map((b) => JSON.parse(b.toString()) as Entry);

  it('works before the fault: a lease is granted and used', async () => {
    const r = await requestLease('T-1');
    assert.equal(r.status, 'GRANTED');
    leaseBefore = r.lease!.leaseId;
    granted.set(leaseBefore, Number(r.evidence!.index));
    assert.equal((await invokeLeased(leaseBefore, 'T-1')).statusCode, 200);
    assert.equal(upstream.requests.length, 1);
    upstream.requests.length = 0;
  });

  it('while every commit fails (SQLITE_FULL): RequestLease and Invoke get UNAVAILABLE; no lease, no upstream call, no entry', async () => {
    const rowsBefore = await leaseRows();
    const sizeBefore = ledger.size;
    faults.failCommits();
    await expectUnavailable(requestLease('T-2'), 'RequestLease');
    await expectUnavailable(invokeLeased(leaseBefore, 'T-1'), 'Invoke on a lease');
    await expectUnavailable(invokeOneShot('T-3'), 'one-shot Invoke');
    // Concurrent requests share failing batches the same way.
    const mixed = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? requestLease(`T-c${i}`) : i % 3 === 1 ? invokeLeased(leaseBefore, 'T-1') : invokeOneShot(`T-c${i}`))),
    );
    for (const r of mixed) {
      assert.equal(r.status, 'rejected', 'nothing succeeds while the disk is full');
      assert.equal((r.reason as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
    }
    assert.ok(faults.commitsFailed > 0, 'the fault was hit');
    assert.equal(upstream.requests.length, 0, 'no secret reached the upstream');
    const rowsAfter = await leaseRows();
    assert.deepEqual([...rowsAfter.keys()].sort(), [...rowsBefore.keys()].sort(), 'no lease row was written');
    assert.equal(rowsAfter.get(leaseBefore)!.usesLeft, rowsBefore.get(leaseBefore)!.usesLeft, 'no use was spent');
    assert.equal(ledger.size, sizeBefore, 'no evidence entry was written');
  });

  it('while only evidence inserts fail: no grant is stored, a one-shot lease row that landed is ended before anyone learns of it; nothing is sent', async () => {
    const rowsBefore = await leaseRows();
    const sizeBefore = ledger.size;
    faults.failEvidenceInserts();
    await expectUnavailable(requestLease('T-4'), 'RequestLease');
    await expectUnavailable(invokeLeased(leaseBefore, 'T-1'), 'Invoke on a lease');
    await expectUnavailable(invokeOneShot('T-5'), 'one-shot Invoke');
    assert.ok(faults.evidenceInsertsFailed >= 3, 'the fault was hit');
    assert.equal(upstream.requests.length, 0, 'no secret reached the upstream');
    const rowsAfter = await leaseRows();
    // RequestLease stores its lease inside the evidence append (row and entries commit together,
    // or neither): no row. A one-shot Invoke writes its row in the same transaction as its
    // evidence but beside it; here the row committed while the evidence inserts failed, so the
    // service ended it. No lease is usable.
    const added = [...rowsAfter.values()].filter((l) => !rowsBefore.has(l.id));
    assert.equal(added.length, 1, 'the lease row of the refused one-shot Invoke only');
    for (const l of added) {
      assert.equal(l.status, 'revoked');
      assert.equal(l.revokeReason, 'evidence could not be recorded');
    }
    // The use was spent before the intent failed: fail closed, never a send without its intent.
    assert.equal(rowsAfter.get(leaseBefore)!.usesLeft, rowsBefore.get(leaseBefore)!.usesLeft - 1);
    assert.equal(ledger.size, sizeBefore, 'no evidence entry was written');
  });

  it('while only lease inserts fail: RequestLease records nothing; the one-shot grant that was recorded is recorded as revoked too; nothing is sent', async () => {
    const sizeBefore = ledger.size;
    const rowsBefore = await leaseRows();
    faults.failLeaseInserts();
    await expectUnavailable(requestLease('T-6'), 'RequestLease');
    await expectUnavailable(invokeOneShot('T-7'), 'one-shot Invoke');
    assert.equal(faults.leaseInsertsFailed, 2, 'the fault was hit');
    faults.clear();
    assert.equal(upstream.requests.length, 0, 'no secret reached the upstream');
    assert.deepEqual([...(await leaseRows()).keys()].sort(), [...rowsBefore.keys()].sort(), 'no lease row was written');
    // The log says what happened: RequestLease's grant was refused with its row (same commit), so
    // it has no entry; the one-shot grant, then that the lease was never usable.
    const added = entriesOfType('lease.issued').filter((e) => e.index >= sizeBefore);
    assert.equal(added.length, 1);
    assert.deepEqual(added.map((e) => (e.lease as { one_shot?: boolean }).one_shot), [true], 'the one-shot lease says so');
    const revoked = entriesOfType('lease.revoked').filter((e) => e.index >= sizeBefore);
    assert.deepEqual(revoked.map((e) => e.lease?.id).sort(), added.map((e) => e.lease?.id).sort());
    for (const e of revoked) {
      assert.equal(e['by'], 'broker');
      assert.equal(e['reason'], 'the lease could not be stored');
    }
    assert.deepEqual(openIntents(), [], 'no intent was recorded');
  });

  it('once the fault clears, the same requests succeed without a restart', async () => {
    const r = await requestLease('T-4');
    assert.equal(r.status, 'GRANTED');
    granted.set(r.lease!.leaseId, Number(r.evidence!.index));
    assert.equal((await invokeLeased(leaseBefore, 'T-1')).statusCode, 200);
    assert.equal((await invokeLeased(r.lease!.leaseId, 'T-4')).statusCode, 200);
    assert.equal((await invokeOneShot('T-5')).statusCode, 200);
    assert.equal(upstream.requests.length, 3);
    assert.ok(upstream.requests.every((q) => q.authorized));
    // Checkpoints are signed again too: a receipt for the new grant verifies offline.
    const evidence = broker.clientFor('agents', 'support-bot').evidence;
    const receipt = await call<unknown, Receipt__Output>(evidence, 'GetReceipt', { index: r.evidence!.index });
    const entry = await call<unknown, EvidenceEntry__Output>(evidence, 'GetEntry', { index: r.evidence!.index });
    const proven = verifyTlogProof(receipt.tlogProof, entry.entry, [parseVerifierKey(ledger.verifierKey)], { origin: ledger.origin });
    assert.equal(proven.index, Number(r.evidence!.index));
  });

  it('a failed call whose invoke.result the log refused gets it once the log recovers', async () => {
    const pending = call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { action: 'gated.slow', method: 'GET', path: '/slow' }).then(
      () => assert.fail('the held call should time out'),
      (e: grpc.ServiceError) => e,
    );
    await gated.waitForRequests(1);
    // The intent was durable before the request left (it reached the upstream).
    const open = openIntents();
    assert.equal(open.length, 1);
    faults.failEvidenceInserts();
    const err = await pending;
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /did not answer/);
    assert.deepEqual(openIntents(), open, 'the outcome is not recorded while the log is down');
    faults.clear();
    await until(() => openIntents().length === 0, 'the retried invoke.result');
    const result = entriesOfType('invoke.result').find((e) => e.lease?.id === open[0]!.lease_id && e.lease.use === open[0]!.use_no);
    assert.equal(result?.outcome, 'error');
  });

  it('a call that reached the upstream but whose result the log refused: UNAVAILABLE saying it was sent; the result is recorded later', async () => {
    const pending = call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { action: 'gated.call', method: 'GET', path: '/call' }).then(
      () => assert.fail('the call should fail: its result cannot be recorded'),
      (e: grpc.ServiceError) => e,
    );
    await gated.waitForRequests(2);
    const open = openIntents();
    assert.equal(open.length, 1);
    faults.failEvidenceInserts();
    gated.release();
    const err = await pending;
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /sent upstream/);
    assert.doesNotMatch(err.details, /SQLITE|disk/i);
    faults.clear();
    await until(() => openIntents().length === 0, 'the retried invoke.result');
    const result = entriesOfType('invoke.result').find((e) => e.lease?.id === open[0]!.lease_id && e.lease.use === open[0]!.use_no);
    assert.equal(result?.outcome, 'ok');
    assert.equal(result?.delivered, false);
  });

  it('the evidence log has no gaps: indexes contiguous, the export verifies, every intent settled, every grant recorded', async () => {
    const cp = await ledger.signCheckpoint();
    const out = path.join(tmp.dir, 'export');
    await writeBundle(out, ledger.bundleSource(cp));
    const v = await verifyBundle(out, { keys: [ledger.verifierKey], origin: ledger.origin, start: 0 });
    assert.equal(v.size, cp.size);
    const files = readdirSync(path.join(out, 'entries')).map((f) => Number(f.replace(/\.json$/, ''))).sort((a, b) => a - b);
    assert.deepEqual(files, Array.from({ length: cp.size }, (_, i) => i), 'indexes 0..size-1, no gaps');
    const entries = files.map((i) => JSON.parse(readFileSync(path.join(out, 'entries', `${i}.json`), 'utf8')) as Entry);
    entries.forEach((e, i) => assert.equal(e.index, i));
    for (const [id, index] of granted) {
      assert.equal(entries[index]?.type, 'lease.issued');
      assert.equal(entries[index]?.lease?.id, id);
    }
    const settled = new Set(entries.filter((e) => e.type === 'invoke.result' || e.type === 'invoke.unknown').map((e) => `${e.lease?.id}/${e.lease?.use}`));
    const intents = entries.filter((e) => e.type === 'invoke.intent');
    assert.ok(intents.length >= 6);
    for (const e of intents) assert.ok(settled.has(`${e.lease?.id}/${e.lease?.use}`), `intent ${e.index} has no outcome`);
    assert.ok(!broker.logs.text.includes(TOKEN), 'the secret is not in the logs');
  });
});
