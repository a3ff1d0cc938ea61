import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import { readEntries } from '../helpers/evidence-entries';
import { makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { startInvokeBroker } from '../helpers/invoke-broker';
import { expectDeniedCall } from '../helpers/expect-denial';

/**
 * Guards for invariants whose breach went unnoticed (issue 10, item 13), over
 * the real daemon and a real HTTPS upstream:
 * - a one-shot Invoke whose permit carries an approval obligation is denied
 *   (invariant 6: authority is what was decided, and an approval is part of it);
 * - the reaper's own timer (no manual tick) expires a lease and records
 *   lease.expired (invariant 4: every lease ends, visibly).
 */

interface Entry {
  type: string;
  agent?: string;
  action?: string;
  lease?: { id: string };
  decision?: { effect: string; approvals?: string[] };
}

describe('invariant guards over the real daemon: one-shot approval obligations, the reaper timer', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let running: Awaited<ReturnType<typeof startInvokeBroker>>;
  // Time for the broker (lease expiry, the reaper); TLS keeps real time.
  const clock = new ManualClock(Date.now());

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    running = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      clock,
      reaperIntervalMs: 50,
      actions: (http) => ({ 'payments.send': { http: http({ methods: ['POST'], paths: ['/payments'] }) } }),
      policies: {
        'payments.cedar':
          '@id("payments-need-finance") @reason("Every payment needs a finance approver.") @obligation("approval:finance")\n' +
          'permit (principal in Group::"support", action == Action::"payments.send", resource);\n',
      },
    });
  });
  after(async () => {
    await running?.close();
    tmp?.cleanup();
  });
  beforeEach(() => {
    running.upstream.requests.length = 0;
  });

  const agent = () => running.broker.clientFor('agents', 'support-bot').agent;
  const entries = (): Promise<Entry[]> => readEntries<Entry>(running.broker.app.ledger!);

  it('a one-shot Invoke whose permit carries @obligation("approval:finance") is PERMISSION_DENIED, explained, and sends nothing', async () => {
    const before = running.broker.app.ledger!.size;
    const { err, explanation } = await expectDeniedCall(
      call(agent(), 'Invoke', { action: 'payments.send', resource: 'payments.send', method: 'POST', path: '/payments', headers: [{ name: 'content-type', value: 'application/json' }], body: Buffer.from('{"to":"acct_1","amount":100}') }),
      { decision: 'allow_with_obligations' },
    );
    const expl = explanation as { decision: string; hint: string; deciding_policies: Array<{ id: string }> };
    assert.equal(expl.decision, 'allow_with_obligations', 'the permit matched: it is the approval that is missing');
    assert.deepEqual(expl.deciding_policies.map((p) => p.id), ['payments-need-finance']);
    assert.match(expl.hint, /approval from finance/);
    assert.match(expl.hint, /a one-shot call cannot wait for one, so request a lease \(RequestLease\) and redeem the approval\.$/);
    assert.deepEqual(explanation['approval'], { groups: ['finance'], rule: 'payments-need-finance', missing: [{ group: 'finance', votes: 1 }] });
    assert.equal(err.details, expl.hint);
    assert.equal(running.upstream.requests.length, 0, 'nothing reached the upstream');
    // Recorded as a decision that needs finance, and no lease was issued or used.
    const added = (await entries()).slice(before);
    assert.deepEqual(added.map((e) => e.type), ['decision']);
    assert.deepEqual(added[0]!.decision?.approvals, ['finance']);
    assert.equal((await running.broker.app.store.listLeases({ action: 'payments.send', limit: 10 })).length, 0);
  });

  it("the reaper's own timer (no tick() from the test) expires a lease and records lease.expired", async () => {
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', {
      action: 'tickets.update',
      resource: 'ticket/T-1',
      params: { fields: { ticket: { stringValue: 'T-1' } } },
      ttlSeconds: 60,
    });
    assert.equal(r.status, 'GRANTED', JSON.stringify(r.explanation));
    const id = r.lease!.leaseId;
    // Still active while its time has not come, however often the timer runs.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await running.broker.app.store.getLease(id))?.status, 'active');
    clock.advance(61_000);
    // Nothing but the reaper's interval (50 ms here) can now mark it expired and record it.
    const deadline = Date.now() + 10_000;
    let expired: Entry | undefined;
    while (Date.now() < deadline) {
      expired = (await entries()).find((e) => e.type === 'lease.expired' && e.lease?.id === id);
      if (expired && (await running.broker.app.store.getLease(id))?.status === 'expired') break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.ok(expired, 'lease.expired was recorded');
    assert.equal((await running.broker.app.store.getLease(id))?.status, 'expired');
    assert.equal(expired.agent, 'support-bot');
    assert.equal(expired.action, 'tickets.update');
  });
});

/**
 * Invariant 7 in the tests themselves: every denial a test checks goes
 * through test/helpers/expect-denial.ts, which asserts a non-empty
 * explanation with a hint. A denial checked any other way (a bare 'DENIED',
 * PERMISSION_DENIED or 'deny' comparison) fails here, naming file and line.
 */
describe('guard: every denial assertion in test/ goes through expect-denial', () => {
  const root = path.resolve(__dirname, '..');
  // The fake Vault server speaks Vault's own "permission denied"; the helper is where the checks live.
  const exempt = [path.join(root, 'helpers', 'expect-denial.ts'), path.join(root, 'vault-server')];
  const patterns: Array<[RegExp, string]> = [
    [new RegExp(`['"\`]${'DEN'}IED['"\`]`), 'a DENIED status'],
    [new RegExp(`['"\`]${'permission'}_denied['"\`]`), 'a permission_denied BrokerError'],
    [new RegExp(`status\\.${'PERMISSION'}_DENIED`), 'a PERMISSION_DENIED code'],
    [new RegExp(`${'PERMISSION'}_DENIED:`), 'PERMISSION_DENIED in CLI output'],
    [new RegExp(`assert[\\w.]*\\(.*['"\`]${'de'}ny['"\`]|(===|!==)\\s*['"\`]${'de'}ny['"\`]|['"\`]${'de'}ny['"\`]\\s*(===|!==)`), 'a deny decision'],
  ];

  function files(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
      const p = path.join(dir, d.name);
      if (exempt.some((e) => p === e || p.startsWith(e + path.sep))) return [];
      return d.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
    });
  }

  it('finds no denial assertion that bypasses the helper', () => {
    const found: string[] = [];
    for (const file of files(root)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
          for (const [re, what] of patterns) if (re.test(line)) found.push(`${path.relative(root, file)}:${i + 1}: ${what}: ${line.trim()}`);
        });
    }
    assert.deepEqual(found, [], `check these denials with test/helpers/expect-denial.ts:\n${found.join('\n')}`);
  });

  it('would catch each form of a bypassing assertion', () => {
    const samples = [`assert.equal(res.status, '${'DEN'}IED');`, `await expectCode(p, grpc.status.${'PERMISSION'}_DENIED);`, `assert.match(out, /${'PERMISSION'}_DENIED: no/);`, `assert.equal(d.decision, '${'de'}ny');`, `assert.equal(e.kind, '${'permission'}_denied');`];
    for (const s of samples) assert.ok(patterns.some(([re]) => re.test(s)), s);
  });
});
