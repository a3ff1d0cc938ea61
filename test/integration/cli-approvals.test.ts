import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { ApprovalBinding } from '../../src/approvals/approval-service';
import { neutralise, quoted, safeJson, shown } from '../../src/cli/terminal-text';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { runCapture } from '../helpers/run-cli';
import { assertCliRefusal } from '../helpers/expect-denial';

/** An agent's purpose that tries to clear the screen, recolour, and forge a line of its own. */
const HOSTILE_PURPOSE = 'refund\u001b[2J\u001b[31m\nAPPROVED by finance\r';
/** A params string with a bidi override and an 8-bit CSI. */
const HOSTILE_NOTE = 'ok\u202eevil\u009b31m';
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/; // eslint-disable-line no-control-regex

describe('CLI: approvals list|show|approve|deny against the daemon', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  const env = (operator: string): NodeJS.ProcessEnv => {
    const o = pki.layout.operators[operator]!;
    return { SECRET_BROKER_ADDR: broker.addr, SECRET_BROKER_CA: pki.layout.caCert, SECRET_BROKER_CERT: o.cert, SECRET_BROKER_KEY: o.key };
  };
  const open = async (over: Partial<ApprovalBinding> = {}): Promise<string> => {
    const binding: ApprovalBinding = {
      agent: 'support-bot',
      action: 'billing.refund',
      resource: 'stripe',
      params: { amount: 50000, note: HOSTILE_NOTE },
      purpose: HOSTILE_PURPOSE,
      ttl_seconds: 0,
      max_uses: 0,
      rule: 'billing-refund-approved',
      policy_version: broker.app.policy.version,
      ...over,
    };
    const { id } = await broker.app.approvals.open({ agent: broker.config.agents['support-bot']!, groups: ['finance'], binding, trust: { score: 600, tier: 'standard', fresh: true } }, broker.app.log);
    return id;
  };

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice', 'bob', 'erin']);
    const base = baseRawConfig(pki, tmp.dir);
    const raw = baseRawConfig(pki, tmp.dir, {
      agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' } },
      operators: {
        alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin'] },
        bob: { id: 'spiffe://example.org/human/bob', roles: ['approver'] },
        erin: { id: 'spiffe://example.org/human/erin', roles: ['approver'] },
      },
      approvals: { finance: { approvers: ['alice', 'bob', 'erin'], required: 1, expires: '15m' } },
      policies: base['policies'],
    });
    broker = await startBroker({ pki, dir: tmp.dir, raw });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('terminal text: controls, escapes and bidi overrides become visible escapes; --json stays the same data', () => {
    assert.equal(neutralise('a\u001b[2Jb\nc\u202ed\u009be'), 'a\\x1b[2Jb\\x0ac\\u202ed\\x9be');
    assert.equal(quoted('say "hi"\n'), '"say \\"hi\\"\\n"');
    assert.equal(shown('ticket/T-1'), 'ticket/T-1');
    assert.equal(shown('x\u001by'), '"x\\u001by"');
    const json = safeJson({ s: HOSTILE_NOTE + HOSTILE_PURPOSE });
    assert.ok(!RAW_CONTROL.test(json));
    assert.deepEqual(JSON.parse(json), { s: HOSTILE_NOTE + HOSTILE_PURPOSE });
  });

  it('list and show: agent-supplied text is neutralised, in human output and --json', async () => {
    const id = await open();
    const list = await runCapture(['approvals', 'list'], '', env('bob'));
    assert.equal(list.code, 0, list.err);
    assert.ok(!RAW_CONTROL.test(list.out), `raw control characters in: ${JSON.stringify(list.out)}`);
    const lines = list.out.trimEnd().split('\n');
    assert.equal(lines.length, 2, 'the newline in the purpose did not start a line of its own');
    assert.match(lines[0]!, new RegExp(`^${id}  pending  billing\\.refund on stripe for support-bot \\(owner alice\\)  \\[finance 0/1, 15m 0s left\\]$`));
    assert.ok(lines[1]!.includes('purpose "refund\\u001b[2J\\u001b[31m\\nAPPROVED by finance\\r"'), lines[1]);
    assert.ok(lines[1]!.includes('ok\\u202eevil\\x9b31m'), lines[1]);
    assert.ok(!lines.some((l) => l.startsWith('APPROVED')));

    const json = await runCapture(['approvals', 'list', '--json'], '', env('bob'));
    assert.equal(json.code, 0, json.err);
    assert.ok(!RAW_CONTROL.test(json.out));
    const parsed = JSON.parse(json.out) as { approvals: Array<{ approvalId: string; purpose: string; params: { fields: { note: { stringValue: string } } } }> };
    const mine = parsed.approvals.find((a) => a.approvalId === id)!;
    assert.equal(mine.purpose, HOSTILE_PURPOSE, '--json carries the exact text, escaped');
    assert.equal(mine.params.fields.note.stringValue, HOSTILE_NOTE);

    const show = await runCapture(['approvals', 'show', id], '', env('erin'));
    assert.equal(show.code, 0, show.err);
    assert.ok(!RAW_CONTROL.test(show.out));
    for (const want of [
      `approval ${id}`,
      '  state     pending (finance 0/1 approvals)',
      '  agent     support-bot (owner alice, who may not decide its requests)',
      '  trust     600 (standard), fresh',
      '  action    billing.refund on stripe',
      '  rule      billing-refund-approved (policy ',
      '(15m 0s left)',
    ]) {
      assert.ok(show.out.includes(want), `missing ${JSON.stringify(want)} in:\n${show.out}`);
    }
    const bad = await runCapture(['approvals', 'list', '--state', 'bogus'], '', env('bob'));
    assert.equal(bad.code, 2);
  });

  it('approve: the owner is refused (exit 3, one line), a reason is required (exit 2), another approver approves', async () => {
    const id = await open({ purpose: 'plain purpose' });
    const owner = await runCapture(['approvals', 'approve', id, '--reason', 'mine anyway'], '', env('alice'));
    assert.equal(owner.code, 3);
    assert.equal(owner.err.trim().split('\n').length, 1);
    assertCliRefusal(owner.err, /alice owns the agent support-bot and may not decide its requests \(four eyes\)/);
    const noReason = await runCapture(['approvals', 'approve', id], '', env('bob'));
    assert.equal(noReason.code, 2);
    assert.match(noReason.err, /--reason is required/);
    const ok = await runCapture(['approvals', 'approve', id, '--reason', 'customer is owed it'], '', env('bob'));
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^approved; the approval is now approved\n/);
    assert.match(ok.out, /vote {6}bob approved at .*: "customer is owed it"/);
    const again = await runCapture(['approvals', 'approve', id, '--reason', 'me too', '--json'], '', env('erin'));
    assert.equal(again.code, 1);
    assert.match(JSON.parse(again.out).error as string, /FAILED_PRECONDITION: the approval is already approved/);
  });

  it('deny --json: one denial rejects; list --state all shows it with its reason', async () => {
    const id = await open({ purpose: 'to deny' });
    const r = await runCapture(['approvals', 'deny', id, '--reason', 'amount looks wrong', '--json'], '', env('erin'));
    assert.equal(r.code, 0, r.err);
    const a = JSON.parse(r.out) as { state: string; reason: string; votes: Array<{ approver: string; approve: boolean }> };
    assert.equal(a.state, 'REJECTED');
    assert.equal(a.reason, 'amount looks wrong');
    assert.deepEqual(a.votes.map((v) => [v.approver, v.approve]), [['erin', false]]);
    const all = await runCapture(['approvals', 'list', '--state', 'all'], '', env('bob'));
    assert.match(all.out, new RegExp(`${id}  rejected  billing\\.refund`));
    const pending = await runCapture(['approvals', 'list'], '', env('bob'));
    assert.ok(!pending.out.includes(id));
  });
});
