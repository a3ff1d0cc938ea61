import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { baseRawConfig, makeTestPki, REPO, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';
import { expectDenied } from '../helpers/expect-denial';

/** policy explain (client, over the real daemon), policy test and policy lint (local): human, --json, exit codes. */
describe('CLI: policy explain, test, lint', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let raw: Record<string, unknown>;
  const devPolicies = path.join(REPO, 'deploy/dev/policies');

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    raw = baseRawConfig(pki, tmp.dir);
    (raw['actions'] as Record<string, unknown>)['refund'] = {
      http: { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'helpdesk-token' }, allow_networks: ['127.0.0.0/8'], context: { amount: 'body.amount' } },
      resource: 'payments',
      budget: { field: 'amount', per: '24h', limit: 100_000 },
    };
    writeFileSync(path.join(raw['policies'] as string, 'refund.cedar'), '@id("refund-10k")\n@reason("Refunds up to 100.00.")\npermit (principal in Group::"support", action == Action::"refund", resource) when { context.amount <= 10000 };\n');
    broker = await startBroker({ pki, dir: tmp.dir, raw });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  const as = (op: string) => {
    const o = pki.layout.operators[op]!;
    return ['--addr', broker.addr, '--ca', pki.layout.caCert, '--cert', o.cert, '--key', o.key];
  };

  describe('policy explain', () => {
    it('a grant: exit 0, human and --json; nothing granted, reserved or recorded', async () => {
      const size = broker.app.ledger!.size;
      const human = await runCapture(['policy', 'explain', 'support-bot', 'refund', '--param', 'amount=4000', ...as('carol')]);
      assert.equal(human.code, 0, human.err);
      assert.match(human.out, /^GRANTED: support-bot refund/);
      const json = await runCapture(['policy', 'explain', 'support-bot', 'refund', 'payments', '--param', 'amount=4000', '--json', ...as('carol')]);
      assert.equal(json.code, 0, json.err);
      const body = JSON.parse(json.out) as { status: string; explanation: { decision: string } };
      assert.equal(body.status, 'GRANTED');
      assert.equal(body.explanation.decision, 'allow');
      // A dry run: no entry, no lease, no budget held.
      assert.equal(broker.app.ledger!.size, size);
      assert.equal((await broker.app.store.listLeases({ agent: 'support-bot', limit: 10 })).length, 0);
      assert.equal(await broker.app.store.budgetUsed({ agent: 'support-bot', action: 'refund', field: 'amount', since: 0 }), 0);
    });

    it('a denial: exit 3, the failed condition and a hint', async () => {
      const r = await runCapture(['policy', 'explain', 'support-bot', 'refund', '--param', 'amount=50000', ...as('alice')]);
      assert.equal(r.code, 3);
      assert.match(r.out, /^DENIED/);
      assert.match(r.out, /failed: /);
      assert.match(r.out, /next: /);
      const j = await runCapture(['policy', 'explain', 'support-bot', 'refund', '--param', 'amount=50000', '--json', ...as('alice')]);
      assert.equal(j.code, 3);
      const body = JSON.parse(j.out) as { status: string; explanation: { hint: string; candidates: Array<{ failedConditions: string[] }> } };
      expectDenied(body);
      assert.ok(body.explanation.candidates[0]!.failedConditions.length > 0);
    });

    it('needs role auditor (exit 3); an unknown agent is a usage-like failure (exit 1); missing args exit 2', async () => {
      assert.equal((await runCapture(['policy', 'explain', 'support-bot', 'refund', '--param', 'amount=1', ...as('bob')])).code, 3);
      const unknown = await runCapture(['policy', 'explain', 'nobody', 'refund', ...as('carol')]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.err, /INVALID_ARGUMENT: .*agent/);
      assert.equal((await runCapture(['policy', 'explain', 'support-bot', ...as('carol')])).code, 2);
    });
  });

  describe('policy test', () => {
    const cases = path.join(devPolicies, 'policies.test.yaml');

    it('the dev policies pass their shipped cases (exit 0, one line per case; --json)', async () => {
      const r = await runCapture(['policy', 'test', cases, '--policies', devPolicies]);
      assert.equal(r.code, 0, r.out + r.err);
      const lines = r.out.trim().split('\n');
      assert.ok(lines.length >= 9);
      assert.ok(lines.slice(0, -1).every((l) => l.startsWith('ok ')));
      assert.match(lines.at(-1)!, /passed, 0 failed/);
      const j = JSON.parse((await runCapture(['policy', 'test', cases, '--policies', devPolicies, '--json'])).out) as { ok: boolean; failed: number; passed: number };
      assert.equal(j.ok, true);
      assert.equal(j.failed, 0);
      assert.equal(j.passed, lines.length - 1);
    });

    it('a mismatching case exits 1 and shows its explanation; the others still pass', async () => {
      const file = path.join(tmp.dir, 'wrong.test.yaml');
      writeFileSync(
        file,
        stringify({
          cases: [
            { name: 'small refund', request: { agent: 'support-bot', groups: ['support'], action: 'billing.refund', resource: 'stripe', context: { amount: 100 } }, expect: { decision: 'allow' } },
            { name: 'wrongly expected', request: { agent: 'support-bot', groups: ['support'], action: 'billing.refund', resource: 'stripe', context: { amount: 60000 } }, expect: { decision: 'allow' } },
            { name: 'wrong obligations', request: { agent: 'support-bot', groups: ['support'], action: 'billing.refund', resource: 'stripe', context: { amount: 6000 } }, expect: { decision: 'allow_with_obligations', obligations: ['approval:legal'] } },
          ],
        }),
      );
      const r = await runCapture(['policy', 'test', file, '--policies', devPolicies]);
      assert.equal(r.code, 1);
      assert.match(r.out, /^ok {4}.*small refund: allow$/m);
      assert.match(r.out, /^FAIL {2}.*wrongly expected: expected allow, got deny$/m);
      assert.match(r.out, /failed: .*context\.amount/);
      assert.match(r.out, /next: /);
      assert.match(r.out, /^FAIL {2}.*wrong obligations: expected allow_with_obligations \[approval:legal\], got allow_with_obligations \[approval:finance\]$/m);
      assert.match(r.out, /3 cases: 1 passed, 2 failed/);
      const j = JSON.parse((await runCapture(['policy', 'test', file, '--policies', devPolicies, '--json'])).out) as { ok: boolean; cases: Array<{ ok: boolean; explanation: { hint: string } }> };
      assert.equal(j.ok, false);
      assert.deepEqual(j.cases.map((c) => c.ok), [true, false, false]);
      assert.ok(j.cases[1]!.explanation.hint);
    });

    it('a malformed case file names each problem with its path (exit 1); no --policies exits 2', async () => {
      const file = path.join(tmp.dir, 'bad.test.yaml');
      writeFileSync(file, stringify({ cases: [{ name: 'x', request: { agent: 'a', action: 'b', colour: 'red' }, expect: { decision: 'maybe' } }] }));
      const r = await runCapture(['policy', 'test', file, '--policies', devPolicies]);
      assert.equal(r.code, 1);
      assert.match(r.err, /cases\[0\]\.request\.colour: expected one of/);
      assert.match(r.err, /cases\[0\]\.expect\.decision: expected allow, deny, allow_with_obligations/);
      assert.equal((await runCapture(['policy', 'test', file])).code, 2);
    });
  });

  describe('policy lint', () => {
    const writeConfig = (name: string, over: Record<string, unknown>) => {
      const file = path.join(tmp.dir, `${name}.yaml`);
      writeFileSync(file, stringify({ ...raw, ...over }));
      return file;
    };

    it('finds actions no rule can permit and rules that can never match (exit 1; human and --json)', async () => {
      const dir = path.join(tmp.dir, 'lint-policies');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        path.join(dir, 'p.cedar'),
        [
          '@id("tickets-support")',
          'permit (principal in Group::"support", action == Action::"tickets.update", resource);',
          '',
          '@id("gone-action")',
          'permit (principal, action == Action::"no.such.action", resource);',
          '',
          '@id("nobody-group")',
          'permit (principal in Group::"interns", action == Action::"tickets.update", resource);',
          '',
        ].join('\n'),
      );
      const file = writeConfig('lint', { policies: dir });
      const r = await runCapture(['policy', 'lint', '--config', file]);
      assert.equal(r.code, 1);
      assert.match(r.out, /^p\.cedar:4: permit "gone-action" names no configured action/m);
      assert.match(r.out, /^p\.cedar:7: permit "nobody-group" fits no configured agent/m);
      assert.match(r.out, /^action refund: no rule can permit refund/m);
      assert.match(r.out, /^3 findings$/m);
      const j = JSON.parse((await runCapture(['policy', 'lint', '--config', file, '--json'])).out) as { ok: boolean; findings: Array<{ kind: string }> };
      assert.equal(j.ok, false);
      assert.deepEqual(j.findings.map((f) => f.kind).sort(), ['action_unpermitted', 'rule_unmatched', 'rule_unmatched']);
    });

    it('a covering set is clean (exit 0)', async () => {
      const file = writeConfig('lint-ok', {});
      // The test's own set covers tickets.update and refund; the dev set's other rules name actions this config lacks.
      const dir = path.join(tmp.dir, 'lint-ok-policies');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'p.cedar'), '@id("t")\npermit (principal in Group::"support", action in [Action::"tickets.update", Action::"refund"], resource);\n');
      const r = await runCapture(['policy', 'lint', '--config', file, '--policies', dir]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /ok \(1 policies cover all 2 configured actions/);
      assert.equal((await runCapture(['policy', 'lint'])).code, 2);
    });
  });
});
