import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { ReplayFlip, ReplaySummary } from '../../src/broker/policy-replay';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type TestPki } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';
import { expectDeny, isDenied } from '../helpers/expect-denial';

const REFUND_10K = '@id("refund-10k")\n@reason("Refunds up to 100.00.")\npermit (principal in Group::"support", action == Action::"refund", resource) when { context.amount <= 10000 };\n';

/**
 * policy replay over a run the real daemon recorded (then stopped: replay
 * reads the log with the daemon down). The flips it lists are checked against
 * a count the test keeps itself from what the daemon answered.
 */
describe('policy replay', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let configFile: string;
  /** What the daemon answered, request by request: the test's own record. */
  const answered: Array<{ amount: number; tier: string; status: string; denied: boolean }> = [];
  let start: string;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const raw = baseRawConfig(pki, tmp.dir);
    (raw['actions'] as Record<string, unknown>)['refund'] = {
      http: { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'helpdesk-token' }, allow_networks: ['127.0.0.0/8'], context: { amount: 'body.amount' } },
      resource: 'payments',
    };
    writeFileSync(path.join(raw['policies'] as string, 'refund.cedar'), REFUND_10K);
    configFile = path.join(tmp.dir, 'config.yaml');
    writeFileSync(configFile, stringify(raw));
    start = new Date(Date.now() - 1000).toISOString();
    const broker = await startBroker({ pki, dir: tmp.dir, raw });
    try {
      const agent = broker.clientFor('agents', 'support-bot').agent;
      // Amounts on both sides of 5000, 10000 and 20000; some repeated, so identical denials fold.
      const amounts = [100, 4000, 5000, 5001, 7500, 9999, 10000, 10001, 12000, 12000, 12000, 15000, 20000, 20001, 30000, 30000, 6000, 3000, 11000, 11000];
      const ask = async (amount: number, tier: string) => {
        const r = await call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'refund', params: { fields: { amount: { numberValue: amount } } } });
        // A denial is checked through the helper (explained, with a hint) as it is recorded.
        answered.push({ amount, tier, status: r.status, denied: isDenied(r) });
      };
      for (const a of amounts) await ask(a, 'standard');
      // Trust at decision time is in the entry: some decisions while restricted (350), then back.
      await broker.app.store.setTrust({ agent: 'support-bot', score: 350, updatedAt: Date.now() });
      for (const a of [200, 8000, 8000]) await ask(a, 'restricted');
      await broker.app.store.setTrust({ agent: 'support-bot', score: 600, updatedAt: Date.now() });
      // An entry from before decisions recorded their inputs: skipped and counted.
      await broker.app.ledger!.append([{ type: 'decision', agent: 'support-bot', action: 'refund', resource: 'payments', decision: { effect: 'allow', policies: ['refund-10k'], policy_version: broker.app.policy.version }, trust: { score: 600, tier: 'standard' } }]);
    } finally {
      // Stopping closes the open denial windows: their folded counts are written.
      await broker.close();
    }
  });
  after(() => tmp?.cleanup());

  const candidate = (name: string, text: string): string => {
    const dir = path.join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'refund.cedar'), text);
    return dir;
  };
  const replay = (dir: string, json = true) => runCapture(['policy', 'replay', '--config', configFile, '--policies', dir, '--since', start, ...(json ? ['--json'] : [])]);
  const parse = (out: string) => {
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { flip?: ReplayFlip; summary?: ReplaySummary });
    return { flips: lines.filter((l) => l.flip).map((l) => l.flip!), summary: lines.find((l) => l.summary)!.summary! };
  };

  it('the daemon answered as the recorded policy says (the run the replays read)', () => {
    assert.equal(answered.length, 23);
    for (const a of answered) assert.deepEqual([a.status === 'GRANTED', a.denied], a.amount <= 10000 ? [true, false] : [false, true], `amount ${a.amount}`);
  });

  it('a stricter policy: exactly the grants it would deny flip, trust and tier as recorded', async () => {
    const dir = candidate('stricter', '@id("refund-5k-standard")\n@reason("Smaller refunds, never while restricted.")\npermit (principal in Group::"support", action == Action::"refund", resource) when { context.amount <= 5000 && context.tier != "restricted" };\n');
    const expected = answered.filter((a) => a.status === 'GRANTED' && (a.amount > 5000 || a.tier === 'restricted'));
    const r = await replay(dir);
    assert.equal(r.code, 0, r.err);
    const { flips, summary } = parse(r.out);
    assert.equal(summary.flipped, expected.length);
    assert.equal(flips.length, expected.length); // grants are never folded: one line each
    assert.deepEqual(summary.by_change, { 'allow->deny': expected.length });
    assert.deepEqual(flips.map((f) => f.before.explanation && (f.after.explanation.candidates[0]?.failed_conditions.length ?? 0) > 0), flips.map(() => true));
    for (const f of flips) {
      assert.equal(f.before.decision, 'allow');
      expectDeny(f.after);
    }
    assert.equal(summary.replayed, answered.length);
    assert.equal(summary.decisions, answered.length + 1);
    assert.equal(summary.skipped.no_inputs, 1);
    // The human form: one block per flip and the summary line.
    const human = await replay(dir, false);
    assert.equal(human.code, 0);
    assert.equal((human.out.match(/: allow -> deny/g) ?? []).length, expected.length);
    assert.match(human.out, new RegExp(`^${expected.length} of ${answered.length} replayed decisions would flip`, 'm'));
    assert.match(human.out, /1 without recorded inputs/);
  });

  it('a looser policy: denials flip to allow, folded ones counted one by one', async () => {
    const dir = candidate('looser', '@id("refund-20k")\n@reason("Refunds up to 200.00.")\npermit (principal in Group::"support", action == Action::"refund", resource) when { context.amount <= 20000 };\n');
    const expected = answered.filter((a) => a.denied && a.amount <= 20000);
    const { flips, summary } = parse((await replay(dir)).out);
    assert.equal(summary.flipped, expected.length);
    assert.deepEqual(summary.by_change, { 'deny->allow': expected.length });
    // 12000 three times: one entry for the first, one folded entry for the other two.
    assert.deepEqual(flips.map((f) => f.count).reduce((a, b) => a + b, 0), expected.length);
    assert.ok(flips.some((f) => f.count === 2));
    assert.equal(summary.replayed, answered.length);
  });

  it('the recorded policy itself flips nothing; --until before the run sees nothing', async () => {
    const { flips, summary } = parse((await replay(candidate('same', REFUND_10K))).out);
    assert.equal(flips.length, 0);
    assert.equal(summary.replayed, answered.length);
    const r = await runCapture(['policy', 'replay', '--config', configFile, '--policies', candidate('same', REFUND_10K), '--since', '2000-01-01T00:00:00Z', '--until', start, '--json']);
    assert.equal(parse(r.out).summary.decisions, 0);
  });

  it('usage errors exit 2; a broken candidate set exits 1 naming file and line', async () => {
    assert.equal((await runCapture(['policy', 'replay', '--config', configFile, '--policies', tmp.dir])).code, 2);
    assert.equal((await runCapture(['policy', 'replay', '--config', configFile, '--policies', tmp.dir, '--since', 'yesterday'])).code, 2);
    const bad = candidate('broken', '@id("x")\npermit (principal, action, resource) when { context.amount <= };\n');
    const r = await replay(bad, false);
    assert.equal(r.code, 1);
    assert.match(r.err, /refund\.cedar:2/);
  });
});
