import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { ensureMasterKey, openLocalBackend } from '../../src/backends/local';
import { call, connect, type BrokerClients } from '../../src/client/grpc-client';
import { verifyBundle } from '../../src/evidence/bundle-verify';
import { openCheckpoint } from '../../src/evidence/checkpoint';
import { hashLeaf, verifyConsistency } from '../../src/evidence/merkle';
import { parseVerifierKey } from '../../src/evidence/note-key';
import type { Checkpoint__Output } from '../../src/gen/secretbroker/v1/Checkpoint';
import type { ConsistencyProof__Output } from '../../src/gen/secretbroker/v1/ConsistencyProof';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { Receipt__Output } from '../../src/gen/secretbroker/v1/Receipt';
import { systemClock } from '../../src/lib/clock';
import { SecretValue } from '../../src/lib/secret-value';
import { baseRawConfig, makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { spawnDaemon, type DaemonProcess } from '../helpers/spawn-daemon';

/*
 * Invariant 3 across a crash: the daemon runs in a child process (real mTLS,
 * a real SQLite file, brokered calls to a real HTTPS upstream in this
 * process), a few concurrent agents drive a bounded load, and the child is
 * killed with SIGKILL in the middle of it. A new child over the same files
 * must then show: every lease an agent saw GRANTED has its lease.issued entry;
 * every request that reached the upstream had its invoke.intent durable first;
 * every intent has an invoke.result or an invoke.unknown; the export
 * verifies; and the checkpoints after the restart are consistent with one
 * signed before the kill.
 */

const TOKEN = 'hd_live_crash_4Vn8Kq2Wz6Tb';
const ORIGIN = 'test.example/secret-broker';
const WORKERS = 4;
/** Upper bound on RPCs the agents send before the kill (the kill comes well before it). */
const BUDGET = 1000;
/** The kill comes once this many RPCs completed, or after KILL_AFTER_MS, whichever is first. */
const KILL_AT = 300;
const KILL_AFTER_MS = 15_000;

interface Entry {
  type: string;
  index: number;
  action?: string;
  idempotency_key?: string;
  lease?: { id: string; use?: number };
  intent?: { index: number };
  [k: string]: unknown;
}


const idempotencyKey = (leaseId: string, use: number): string => createHash('sha256').update(`secret-broker/idempotency/v1\0${leaseId}\0${use}`).digest('hex').slice(0, 32);

describe('crash: kill -9 under load, then restart (invariant 3)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let upstream: HttpsUpstream;
  let raw: Record<string, unknown> & { __dir: string };
  let cfgFile: string;
  let daemon: DaemonProcess | undefined;
  let vkey: string;
  const clients: BrokerClients[] = [];

  // What the agents saw before the kill.
  const granted = new Map<string, { index: number; leafHash: Buffer }>();
  const invoked: Array<{ leaseId: string; index: number }> = [];
  const unexpected: string[] = [];
  let completed = 0;
  let checkpointBefore: Checkpoint__Output | undefined;
  let entries: Entry[] = [];
  let leafHashes: Buffer[] = [];

  const clientFor = (port: number, name = 'support-bot'): BrokerClients => {
    const e = pki.layout.agents[name]!;
    const c = connect({ addr: `127.0.0.1:${port}`, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(e.cert), keyPem: readFileSync(e.key) });
    clients.push(c);
    return c;
  };
  const closeClients = (): void => {
    for (const c of clients.splice(0)) c.close();
  };

  before(async () => {
    tmp = tempDir('sb-crash-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    upstream = await startHttpsUpstream({ secret: TOKEN, auth: { kind: 'bearer' } });
    const caFile = path.join(tmp.dir, 'upstream-ca.pem');
    writeFileSync(caFile, upstream.caPem);
    const base = baseRawConfig(pki, tmp.dir);
    // No resolver in the child: the upstream is addressed by its IP, allowed through allow_networks.
    const http = (extra: Record<string, unknown>) => ({
      base_url: `https://127.0.0.1:${upstream.port}`,
      ca_files: [caFile],
      auth: { bearer: 'helpdesk-token' },
      allow_networks: ['127.0.0.0/8'],
      ...extra,
    });
    base['actions'] = {
      'tickets.update': { http: http({ methods: ['PUT', 'GET'], paths: ['/tickets/{id}'], context: { ticket: 'path.id' } }), resource: 'ticket/{ticket}', max_uses: 5 },
      // A long timeout: the call must still be in flight at the kill, however slow the machine.
      'helpdesk.hang': { http: http({ methods: ['GET'], paths: ['/hang'], timeout: '10m' }) },
    };
    base['limits'] = { requests_per_second: 10_000, burst: 10_000, active_leases: 100_000, max_body_bytes: 65536 };
    writeFileSync(path.join(String(base['policies']), 'test-crash.cedar'), '@id("helpdesk-hang-support") @reason("test") permit (principal in Group::"support", action == Action::"helpdesk.hang", resource);');
    const local = (base['backends'] as { local: { path: string; key_file: string } }).local;
    await ensureMasterKey(local.key_file, { sealedFile: local.path });
    const secrets = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
    await secrets.put('helpdesk-token', SecretValue.fromString(TOKEN));
    await secrets.close();
    cfgFile = path.join(tmp.dir, 'config.yaml');
    writeFileSync(cfgFile, stringify(base));
    raw = { ...base, __dir: tmp.dir };
  });
  after(async () => {
    closeClients();
    await daemon?.stop();
    await upstream?.close();
    tmp?.cleanup();
  });

  it('runs a bounded load against the daemon in a child process and kills it with SIGKILL mid-load', async () => {
    daemon = await spawnDaemon(raw);
    const first = daemon;
    // The child created the evidence signing key; `evidence key` reads it (and does not recreate it).
    const key = await runCapture(['evidence', 'key', '--config', cfgFile, '--json']);
    assert.equal(key.code, 0, key.err);
    vkey = (JSON.parse(key.out) as { verifier_key: string; created: boolean }).verifier_key;

    // A call that is in flight at the kill: its intent is durable (it reached the upstream), its result never comes.
    const hangClient = clientFor(first.port);
    const hung = call<unknown, InvokeResponse__Output>(hangClient.agent, 'Invoke', { action: 'helpdesk.hang', method: 'GET', path: '/hang' }, { deadlineMs: 60_000 }).then(
      () => 'answered',
      (e: grpc.ServiceError) => grpc.status[e.code],
    );

    let killed = false;
    let sent = 0;
    const worker = async (w: number): Promise<void> => {
      const c = clientFor(first.port);
      const rpc = async <T>(method: string, req: unknown): Promise<T | undefined> => {
        if (killed || sent >= BUDGET) return undefined;
        sent++;
        try {
          const r = await call<unknown, T>(c.agent, method, req, { deadlineMs: 20_000 });
          completed++;
          return r;
        } catch (err) {
          // After the kill every call fails; before it, none should.
          if (!killed) unexpected.push(`${method}: ${(err as grpc.ServiceError).message}`);
          return undefined;
        }
      };
      for (let i = 0; !killed && sent < BUDGET; i++) {
        const ticket = `T-${w}-${i}`;
        const r = await rpc<LeaseResponse__Output>('RequestLease', {
          action: 'tickets.update',
          resource: `ticket/${ticket}`,
          params: { fields: { ticket: { stringValue: ticket } } },
          maxUses: 2,
        });
        if (!r) continue;
        if (r.status !== 'GRANTED' || !r.lease || !r.evidence) {
          unexpected.push(`RequestLease: ${r.status}`);
          continue;
        }
        granted.set(r.lease.leaseId, { index: Number(r.evidence.index), leafHash: r.evidence.leafHash });
        const inv = await rpc<InvokeResponse__Output>('Invoke', { leaseId: r.lease.leaseId, method: 'GET', path: `/tickets/${ticket}` });
        if (inv?.evidence) invoked.push({ leaseId: r.lease.leaseId, index: Number(inv.evidence.index) });
        if (i % 3 === 2) {
          const one = await rpc<InvokeResponse__Output>('Invoke', { action: 'tickets.update', resource: `ticket/${ticket}-1`, method: 'PUT', path: `/tickets/${ticket}-1`, body: Buffer.from('{}') });
          if (one?.evidence) invoked.push({ leaseId: one.leaseId, index: Number(one.evidence.index) });
        }
      }
    };

    const started = Date.now();
    const until = async (cond: () => boolean, what: string, ms: number): Promise<void> => {
      while (!cond()) {
        if (Date.now() - started > ms) assert.fail(`timed out waiting for ${what}; child stderr:\n${first.stderr().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await until(() => upstream.requests.some((q) => q.url === '/hang'), 'the hanging call to reach the upstream', 20_000);
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));

    // A checkpoint signed before the kill, to hold the restarted log to.
    await until(() => completed >= KILL_AT / 3 || Date.now() - started > KILL_AFTER_MS / 2, 'some load', 60_000);
    const evClient = clientFor(first.port);
    await until(() => granted.size > 0, 'a grant', 60_000);
    // GetReceipt signs a checkpoint covering the entry on demand, so the one read next is non-empty and covers a grant.
    const someGrant = [...granted.values()][0]!;
    await call<unknown, Receipt__Output>(evClient.evidence, 'GetReceipt', { index: String(someGrant.index) });
    checkpointBefore = await call<unknown, Checkpoint__Output>(evClient.evidence, 'GetCheckpoint', {});
    openCheckpoint(checkpointBefore.note, [parseVerifierKey(vkey)], { origin: ORIGIN });
    assert.ok(Number(checkpointBefore.size) > someGrant.index);

    await until(() => completed >= KILL_AT || Date.now() - started > KILL_AFTER_MS, 'the kill point', 60_000);
    assert.ok(sent < BUDGET, 'the kill comes mid-load');
    killed = true;
    await first.crash();
    assert.equal(first.child.signalCode, 'SIGKILL');
    await Promise.all(workers);
    assert.notEqual(await hung, 'answered', 'the hanging call died with the daemon');
    closeClients();
    assert.deepEqual(unexpected, [], 'no request failed before the kill');
    assert.ok(granted.size >= 10, `only ${granted.size} leases were granted before the kill`);
    assert.ok(invoked.length >= 5, `only ${invoked.length} calls completed before the kill`);
  });

  it('restarts over the same files and serves again', async () => {
    assert.ok(checkpointBefore, 'the load ran');
    daemon = await spawnDaemon(raw);
    const c = clientFor(daemon.port);
    const r = await call<unknown, LeaseResponse__Output>(c.agent, 'RequestLease', {
      action: 'tickets.update',
      resource: 'ticket/after',
      params: { fields: { ticket: { stringValue: 'after' } } },
    });
    assert.equal(r.status, 'GRANTED');
    granted.set(r.lease!.leaseId, { index: Number(r.evidence!.index), leafHash: r.evidence!.leafHash });
    const inv = await call<unknown, InvokeResponse__Output>(c.agent, 'Invoke', { leaseId: r.lease!.leaseId, method: 'GET', path: '/tickets/after' });
    assert.equal(inv.statusCode, 200);
    // A checkpoint covering everything so far (signed on demand), for the export.
    await call<unknown, Receipt__Output>(c.evidence, 'GetReceipt', { index: inv.evidence!.index });
  });

  it('the export verifies offline and has every entry, in order', async () => {
    assert.ok(daemon, 'restarted');
    const out = path.join(tmp.dir, 'export');
    const ex = await runCapture(['evidence', 'export', '--config', cfgFile, '--out', out, '--json']);
    assert.equal(ex.code, 0, ex.err);
    const v = await verifyBundle(out, { keys: [vkey], origin: ORIGIN, start: 0 });
    const files = readdirSync(path.join(out, 'entries')).map((f) => Number(f.replace(/\.json$/, ''))).sort((a, b) => a - b);
    assert.deepEqual(files, Array.from({ length: v.size }, (_, i) => i), 'indexes 0..size-1, no gaps');
    const bytes = files.map((i) => readFileSync(path.join(out, 'entries', `${i}.json`)));
    leafHashes = bytes.map((b) => hashLeaf(b));
    entries = bytes.map((b, i) => {
      const e = JSON.parse(b.toString('utf8')) as Entry;
      assert.equal(e.index, i);
      return e;
    });
  });

  it('every lease an agent saw GRANTED has its lease.issued entry', () => {
    assert.ok(entries.length > 0, 'exported');
    for (const [id, ref] of granted) {
      const e = entries[ref.index];
      assert.ok(e, `lease ${id}: entry ${ref.index} is missing after the crash`);
      assert.equal(e.type, 'lease.issued');
      assert.equal(e.lease?.id, id);
      assert.ok(leafHashes[ref.index]!.equals(ref.leafHash), `lease ${id}: the entry's leaf hash differs from the one the agent was given`);
    }
    for (const { leaseId, index } of invoked) {
      assert.equal(entries[index]?.type, 'invoke.result');
      assert.equal(entries[index]?.lease?.id, leaseId);
    }
  });

  it('every request that reached the upstream had its invoke.intent durable first', () => {
    const intents = new Set(entries.filter((e) => e.type === 'invoke.intent').map((e) => e.idempotency_key));
    assert.ok(upstream.requests.length > 0);
    for (const q of upstream.requests) {
      assert.ok(intents.has(String(q.headers['idempotency-key'])), `${q.method} ${q.url} reached the upstream without a durable intent`);
    }
    // And the key is the one derived from the lease and use the intent names.
    for (const e of entries.filter((x) => x.type === 'invoke.intent')) assert.equal(e.idempotency_key, idempotencyKey(e.lease!.id, e.lease!.use!));
  });

  it('every brokered call whose intent is in the log has an invoke.result or an invoke.unknown, after it', () => {
    const outcomes = new Map<string, Entry[]>();
    for (const e of entries.filter((x) => x.type === 'invoke.result' || x.type === 'invoke.unknown')) {
      const k = `${e.lease?.id}/${e.lease?.use}`;
      outcomes.set(k, [...(outcomes.get(k) ?? []), e]);
    }
    const intents = entries.filter((e) => e.type === 'invoke.intent');
    assert.ok(intents.length >= 5);
    for (const i of intents) {
      const found = outcomes.get(`${i.lease?.id}/${i.lease?.use}`) ?? [];
      assert.equal(found.length, 1, `intent ${i.index} (${i.lease?.id}/${i.lease?.use}) has ${found.length} outcomes`);
      assert.ok(found[0]!.index > i.index);
      if (found[0]!.type === 'invoke.unknown') assert.equal(found[0]!.intent?.index, i.index);
    }
    // The call hanging at the kill is one of them, settled as unknown.
    const hang = intents.filter((e) => e.action === 'helpdesk.hang');
    assert.equal(hang.length, 1);
    assert.equal(outcomes.get(`${hang[0]!.lease?.id}/${hang[0]!.lease?.use}`)?.[0]?.type, 'invoke.unknown');
    // The unknowns were written at start-up, before anything the restarted daemon served.
    const firstAfterRestart = entries.find((e) => e.type === 'lease.issued' && e.lease?.id === [...granted.keys()].at(-1));
    for (const e of entries.filter((x) => x.type === 'invoke.unknown')) assert.ok(e.index < firstAfterRestart!.index);
  });

  it('the checkpoints after the restart are consistent with the one signed before the kill', async () => {
    assert.ok(daemon && checkpointBefore);
    const c = clientFor(daemon.port);
    const before = checkpointBefore;
    const proof = await call<unknown, ConsistencyProof__Output>(c.evidence, 'GetConsistencyProof', { firstSize: before.size });
    const after = openCheckpoint(proof.checkpoint, [parseVerifierKey(vkey)], { origin: ORIGIN }).checkpoint;
    assert.equal(proof.firstSize, before.size);
    assert.equal(Number(proof.secondSize), after.size);
    assert.ok(after.size > Number(before.size));
    assert.ok(verifyConsistency(Number(before.size), after.size, proof.hashes, before.rootHash, after.rootHash), 'the log after the restart extends the one before');
  });
});
