import { strict as assert } from 'node:assert';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { ReloadPoliciesResponse__Output } from '../../src/gen/secretbroker/v1/ReloadPoliciesResponse';
import { makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { readEntries } from '../helpers/evidence-entries';
import { runCapture } from '../helpers/run-cli';
import { until } from '../helpers/until';
import { reloadOnSighup } from '../../src/cli/policy-commands';
import { PassThrough } from 'node:stream';
import { vaultDynamicRawConfig } from '../helpers/dynamic-action';
import { FaultCredentialBackend, faultSource } from '../helpers/fault-credential-backend';
import { ManualClock } from '../../src/lib/clock';
import { expectDenied, expectRefused } from '../helpers/expect-denial';
import type { InvokeHooks } from '../../src/broker/invoke-service';

/**
 * ReloadPolicies over the real daemon: a broken set is refused whole (every
 * problem with file and line) and the old one keeps serving; a good one is
 * recorded (policy.loaded), swapped in, and active leases it no longer
 * permits are revoked naming that entry.
 */
describe('ReloadPolicies / policy reload', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let policies: string;
  const hooks: InvokeHooks = {};

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    broker = await startBroker({ pki, dir: tmp.dir, hooks });
    policies = broker.config.policies;
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  const request = (ticket: string) =>
    call<unknown, LeaseResponse__Output>(broker.clientFor('agents', 'support-bot').agent, 'RequestLease', { action: 'tickets.update', params: { fields: { ticket: { stringValue: ticket } } } });
  const reload = (op = 'alice') => call<unknown, ReloadPoliciesResponse__Output>(broker.clientFor('operators', op).operator, 'ReloadPolicies', {});
  const cli = (args: string[], op = 'alice') => {
    const o = pki.layout.operators[op]!;
    return runCapture(['policy', 'reload', '--addr', broker.addr, '--ca', pki.layout.caCert, '--cert', o.cert, '--key', o.key, ...args]);
  };

  it('needs role admin', async () => {
    await expectRefused(reload('bob'), /requires the operator role "admin"/);
  });

  it('a broken policy file leaves the old set serving and names every problem with file and line', async () => {
    const before = broker.app.policy.version;
    const size = broker.app.ledger!.size;
    const granted = await request('T-1');
    assert.equal(granted.status, 'GRANTED');
    writeFileSync(
      path.join(policies, 'zz-broken.cedar'),
      ['// a typo on line 3', '@id("broken")', 'permit (principal, action == Action::"tickets.update", resource) when { context.tier = "trusted" };', ''].join('\n'),
    );
    writeFileSync(path.join(policies, 'zz-unknown-group.cedar'), ['', '@id("needs-nobody")', '@obligation("approval:nobody")', 'permit (principal, action, resource);', ''].join('\n'));
    try {
      await assert.rejects(reload(), (e: grpc.ServiceError) => {
        assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
        assert.match(e.details, /zz-broken\.cedar:3: /);
        return true;
      });
      // The unknown approval group is only found once the files parse: fix the typo and it is named with its line.
      writeFileSync(path.join(policies, 'zz-broken.cedar'), '@id("broken")\npermit (principal, action == Action::"tickets.update", resource) when { context.tier == "trusted" };\n');
      await assert.rejects(reload(), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && /zz-unknown-group\.cedar:2: policy "needs-nobody": asks for approval:nobody/.test(e.details));
      // The CLI shows the same problems and exits 1.
      const r = await cli([]);
      assert.equal(r.code, 1);
      assert.match(r.err, /zz-unknown-group\.cedar:2/);
      // Nothing changed: same version serving, nothing recorded, the lease still active, requests still decided by the old set.
      assert.equal(broker.app.policy.version, before);
      const entries = await readEntries(broker.app.ledger!, size);
      assert.equal(entries.filter((e) => e['type'] === 'policy.loaded').length, 0);
      assert.equal((await broker.app.store.getLease(granted.lease!.leaseId))!.status, 'active');
      assert.equal((await request('T-1')).status, 'GRANTED');
    } finally {
      rmSync(path.join(policies, 'zz-broken.cedar'), { force: true });
      rmSync(path.join(policies, 'zz-unknown-group.cedar'), { force: true });
    }
  });

  it('unchanged files: nothing recorded, nothing re-evaluated', async () => {
    const size = broker.app.ledger!.size;
    const r = await reload();
    assert.equal(r.changed, false);
    assert.equal(r.reevaluated, 0);
    const human = await cli([]);
    assert.equal(human.code, 0);
    assert.match(human.out, /unchanged/);
    assert.equal((await readEntries(broker.app.ledger!, size)).filter((e) => e['type'] === 'policy.loaded').length, 0);
  });

  it('a reload between a grant\'s decision and its commit refuses that grant (the reload\'s re-evaluation could not see it): nothing is granted under the old set', async () => {
    const extra = path.join(policies, 'zz-mid-grant.cedar');
    hooks.beforeGrant = async () => {
      delete hooks.beforeGrant;
      // Any change makes a new set (the version covers every policy's text); this one permits as before.
      writeFileSync(extra, '@id("mid-grant")\npermit (principal in Group::"support", action == Action::"tickets.update", resource);\n');
      assert.equal((await reload()).changed, true);
    };
    try {
      await assert.rejects(request('T-31'), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && /policy set was reloaded while this lease was being granted/.test(e.details));
      const live = await broker.app.store.listLeases({ agent: 'support-bot', statuses: ['active'], limit: 1000 });
      assert.equal(live.filter((l) => l.resource === 'ticket/T-31').length, 0, 'no lease under the old set');
      // Asked again, the new set decides (and the lease is given back: later tests count the live ones).
      const again = await request('T-31');
      assert.equal(again.status, 'GRANTED');
      await call(broker.clientFor('agents', 'support-bot').agent, 'RevokeLease', { leaseId: again.lease!.leaseId });
    } finally {
      delete hooks.beforeGrant;
      rmSync(extra, { force: true });
      await reload();
    }
  });

  it('SIGHUP (serve and dev) reloads the same way, and says so on stderr; a broken set is refused there too', async () => {
    const lines: string[] = [];
    const stderr = new PassThrough();
    stderr.on('data', (d: Buffer) => lines.push(d.toString()));
    const stop = reloadOnSighup(broker.app, { stdout: new PassThrough(), stderr, stdin: new PassThrough(), env: {}, cwd: process.cwd() });
    try {
      writeFileSync(path.join(policies, 'zz-hup.cedar'), '@id("hup")\npermit (principal, action == Action::"tickets.update", resource) when { ;\n');
      process.emit('SIGHUP', 'SIGHUP');
      await until('SIGHUP is answered', () => lines.join('').includes('refused'));
      assert.match(lines.join(''), /SIGHUP: policy reload refused, the old set keeps serving: [\s\S]*zz-hup\.cedar:2/);
      const before = broker.app.policy.version;
      writeFileSync(path.join(policies, 'zz-hup.cedar'), '@id("hup")\nforbid (principal, action == Action::"no.such", resource);\n');
      process.emit('SIGHUP', 'SIGHUP');
      await until('SIGHUP loads the set', () => lines.join('').includes('loaded'));
      assert.notEqual(broker.app.policy.version, before);
    } finally {
      stop();
      rmSync(path.join(policies, 'zz-hup.cedar'), { force: true });
    }
  });

  it('a good set is recorded, swapped in, and active leases it no longer permits are revoked naming policy.loaded', async () => {
    const keep = await request('T-1');
    const lose = await request('T-2');
    assert.equal(keep.status, 'GRANTED');
    assert.equal(lose.status, 'GRANTED');
    const before = broker.app.policy.version;
    const size = broker.app.ledger!.size;
    writeFileSync(
      path.join(policies, 'tickets.cedar'),
      '@id("tickets-update-t1-only")\n@reason("Only ticket T-1 for now.")\npermit (principal in Group::"support", action == Action::"tickets.update", resource == Resource::"ticket/T-1");\n',
    );
    const r = await cli(['--json']);
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out) as ReloadPoliciesResponse__Output;
    assert.equal(res.changed, true);
    assert.equal(res.previousVersion, before);
    assert.notEqual(res.policyVersion, before);
    assert.equal(broker.app.policy.version, res.policyVersion);
    // Every lease granted for T-2 so far is revoked; every T-1 lease is kept.
    const revokedIds = res.revoked.map((l) => l.leaseId);
    assert.ok(revokedIds.includes(lose.lease!.leaseId));
    assert.ok(!revokedIds.includes(keep.lease!.leaseId));
    assert.ok(res.revoked.every((l) => l.resource === 'ticket/T-2'));
    assert.equal((await broker.app.store.getLease(lose.lease!.leaseId))!.status, 'revoked');
    assert.equal((await broker.app.store.getLease(keep.lease!.leaseId))!.status, 'active');
    // Evidence: policy.loaded, then lease.revoked naming it.
    const entries = await readEntries(broker.app.ledger!, size);
    const loaded = entries.find((e) => e['type'] === 'policy.loaded')!;
    assert.equal(loaded['policy_version'], res.policyVersion);
    assert.equal(loaded['previous_version'], before);
    assert.deepEqual(loaded['policies'], ['analytics-query-analysts', 'billing-refund-small', 'billing-refund-approved', 'billing-refund-quarantine', 'tickets-update-t1-only']);
    assert.equal(loaded['by'], 'operator:alice');
    assert.equal(String(res.evidence!.index), String(loaded['index']));
    const revoked = entries.filter((e) => e['type'] === 'lease.revoked');
    assert.equal(revoked.length, res.revoked.length);
    for (const e of revoked) {
      assert.equal(e['policy_loaded'], loaded['index']);
      assert.ok((e['index'] as number) > (loaded['index'] as number));
    }
    // The new set decides from now on.
    expectDenied(await request('T-2'));
    assert.equal((await request('T-1')).status, 'GRANTED');
  });
});

describe('ReloadPolicies: a dynamic lease the new set no longer permits loses its credential upstream', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let broker: RunningBroker;
  let vault: FaultCredentialBackend;

  before(async () => {
    tmp = tempDir();
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const clock = new ManualClock(Date.UTC(2026, 11, 4, 12, 0, 0));
    vault = new FaultCredentialBackend('vault', clock);
    broker = await startBroker({ pki, dir: tmp.dir, raw: vaultDynamicRawConfig(pki, tmp.dir), clock, dynamicCredentials: faultSource(vault) });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('revoked with lease.revoked naming policy.loaded, then credential.revoked; the login is dropped', async () => {
    const res = await call<unknown, LeaseResponse__Output>(broker.clientFor('agents', 'support-bot').agent, 'RequestLease', { action: 'reporting.db', ttlSeconds: 300 });
    assert.equal(res.status, 'GRANTED');
    const id = res.lease!.leaseId;
    assert.equal(vault.forLease(id)!.revoked, false);
    const size = broker.app.ledger!.size;
    rmSync(path.join(broker.config.policies, 'reporting.cedar'));
    const r = await call<unknown, ReloadPoliciesResponse__Output>(broker.clientFor('operators', 'alice').operator, 'ReloadPolicies', {});
    assert.equal(r.changed, true);
    assert.deepEqual(r.revoked.map((l) => l.leaseId), [id]);
    assert.equal(vault.forLease(id)!.revoked, true);
    const entries = await readEntries(broker.app.ledger!, size);
    const loaded = entries.find((e) => e['type'] === 'policy.loaded')!;
    const revoked = entries.find((e) => e['type'] === 'lease.revoked')!;
    assert.equal(revoked['policy_loaded'], loaded['index']);
    assert.equal((revoked['lease'] as { id: string }).id, id);
    const dropped = entries.find((e) => e['type'] === 'credential.revoked')!;
    assert.ok((dropped['index'] as number) > (revoked['index'] as number));
  });
});
