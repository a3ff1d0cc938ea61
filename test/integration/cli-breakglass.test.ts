import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki, cliEnv } from '../helpers/broker-harness';
import { assertCliRefusal } from '../helpers/expect-denial';
import { runCapture } from '../helpers/run-cli';

/** A reason that tries to clear the screen and forge a line of its own: the daemon refuses it. */
const CONTROL_REASON = 'INC-7\u001b[2J\nconfirmed by everyone';
/** One with a bidi override and an 8-bit CSI, which the daemon stores and the CLI must neutralise. */
const HOSTILE_REASON = 'INC-7 \u202eevil\u009b31m';
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/; // eslint-disable-line no-control-regex

describe('CLI: break-glass and approvals review against the daemon, human and --json', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  const env = (operator: string): NodeJS.ProcessEnv => cliEnv(broker.addr, pki, 'operators', operator);

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot', 'analyst-bot'], ['alice', 'bob', 'carol']);
    const raw = baseRawConfig(pki, tmp.dir, {
      agents: {
        'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' },
        'analyst-bot': { id: 'spiffe://example.org/agent/analyst-bot', groups: ['analysts'], owner: 'alice' },
      },
      operators: {
        alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor'] },
        bob: { id: 'spiffe://example.org/human/bob', roles: ['approver'] },
        carol: { id: 'spiffe://example.org/human/carol', roles: ['admin', 'approver', 'auditor'] },
      },
    });
    broker = await startBroker({ pki, dir: tmp.dir, raw });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('alice asks, alice cannot confirm (exit 3), bob confirms; list, show, revoke; approvals review lists it until carol marks it reviewed', async () => {
    const refused = await runCapture(['break-glass', 'analyst-bot', 'tickets.update', '--reason', CONTROL_REASON], '', env('alice'));
    assert.equal(refused.code, 1);
    assert.match(refused.err, /INVALID_ARGUMENT: reason: at most 500 characters, no control characters/);
    const asked = await runCapture(['break-glass', 'analyst-bot', 'tickets.update', 'ticket/T-1', '--reason', HOSTILE_REASON, '--ttl', '30m', '--json'], '', env('alice'));
    assert.equal(asked.code, 0, asked.err);
    assert.ok(!RAW_CONTROL.test(asked.out.trimEnd()), 'terminal-safe --json');
    const o = (JSON.parse(asked.out) as { override: { overrideId: string; state: string; ttlSeconds: number; reason: string } }).override;
    assert.equal(o.state, 'pending');
    assert.equal(o.ttlSeconds, 1800);
    assert.equal(o.reason, HOSTILE_REASON);

    const own = await runCapture(['break-glass', 'confirm', o.overrideId], '', env('alice'));
    assert.equal(own.code, 3);
    assertCliRefusal(own.err, /alice asked for this override and may not confirm it/);

    const conf = await runCapture(['break-glass', 'confirm', o.overrideId, '--note', 'seen the incident'], '', env('bob'));
    assert.equal(conf.code, 0, conf.err);
    assert.match(conf.out, /^confirmed: policy is bypassed for tickets\.update on ticket\/T-1 for analyst-bot until \S+Z\n/);
    assert.match(conf.out, /\n {2}confirmed {2}by bob at /);

    const shown = await runCapture(['break-glass', 'show', o.overrideId], '', env('carol'));
    assert.equal(shown.code, 0, shown.err);
    assert.ok(!RAW_CONTROL.test(shown.out.replace(/\n/g, '')), `raw control characters in ${JSON.stringify(shown.out)}`);
    assert.ok(shown.out.includes('reason     "INC-7 \\u202eevil\\x9b31m"'), shown.out);
    assert.match(shown.out, /state {6}active \(29m 59s left\)|state {6}active \(30m 0s left\)/);
    assert.match(shown.out, /reviewed {3}not yet/);

    const listed = await runCapture(['break-glass', 'list', '--state', 'active'], '', env('carol'));
    assert.equal(listed.code, 0, listed.err);
    assert.equal(listed.out.trimEnd().split('\n').length, 2, 'one override, two lines (the reason cannot start a third)');
    assert.match(listed.out, new RegExp(`^${o.overrideId}  active  tickets\\.update on ticket/T-1 for analyst-bot  \\[asked by alice, confirmed by bob, \\S+ \\S+ left; not reviewed\\]`));

    // The agent's own lease request says whose override it stands under, human and --json.
    const agentEnv = { ...env('alice'), SECRET_BROKER_CERT: pki.layout.agents['analyst-bot']!.cert, SECRET_BROKER_KEY: pki.layout.agents['analyst-bot']!.key };
    const lease = await runCapture(['lease', 'request', 'tickets.update', 'ticket/T-1', '--param', 'ticket=T-1'], '', agentEnv);
    assert.equal(lease.code, 0, lease.err);
    assert.match(lease.out, new RegExp(`^GRANTED under break-glass override ${o.overrideId} \\(asked by alice, confirmed by bob, until \\S+Z\\)\n`));
    const leaseJson = await runCapture(['lease', 'request', 'tickets.update', 'ticket/T-1', '--param', 'ticket=T-1', '--json'], '', agentEnv);
    const ex = (JSON.parse(leaseJson.out) as { explanation: { override: { overrideId: string; requestedBy: string; confirmedBy: string } } }).explanation;
    assert.deepEqual([ex.override.overrideId, ex.override.requestedBy, ex.override.confirmedBy], [o.overrideId, 'alice', 'bob']);

    const revoked = await runCapture(['break-glass', 'revoke', o.overrideId, '--reason', 'fixed'], '', env('carol'));
    assert.equal(revoked.code, 0, revoked.err);
    assert.match(revoked.out, /ended {6}revoked by carol at \S+: "fixed"/);

    const review = await runCapture(['approvals', 'review'], '', env('carol'));
    assert.equal(review.code, 0, review.err);
    assert.match(review.out, /^1 break-glass override\(s\) to review/);
    assert.ok(review.out.includes(o.overrideId));
    const reviewJson = await runCapture(['approvals', 'review', '--json'], '', env('carol'));
    assert.deepEqual((JSON.parse(reviewJson.out) as { overrides: Array<{ overrideId: string }> }).overrides.map((x) => x.overrideId), [o.overrideId]);

    const noNote = await runCapture(['approvals', 'review', 'mark', o.overrideId], '', env('carol'));
    assert.equal(noNote.code, 2);
    assert.match(noNote.err, /--note is required/);
    const byConfirmer = await runCapture(['approvals', 'review', 'mark', o.overrideId, '--note', 'ok'], '', env('bob'));
    assert.equal(byConfirmer.code, 3);
    const marked = await runCapture(['approvals', 'review', 'mark', o.overrideId, '--note', 'justified', '--json'], '', env('carol'));
    assert.equal(marked.code, 0, marked.err);
    assert.equal((JSON.parse(marked.out) as { override: { reviewedBy: string } }).override.reviewedBy, 'carol');
    const after = await runCapture(['approvals', 'review'], '', env('carol'));
    assert.equal(after.out, 'nothing to review: every break-glass override has been reviewed\n');
  });

  it('usage errors exit 2: no reason, a bad --ttl, too few arguments', async () => {
    const noReason = await runCapture(['break-glass', 'analyst-bot', 'tickets.update'], '', env('alice'));
    assert.equal(noReason.code, 2);
    assert.match(noReason.err, /--reason is required/);
    const badTtl = await runCapture(['break-glass', 'analyst-bot', 'tickets.update', '--reason', 'x', '--ttl', 'soon'], '', env('alice'));
    assert.equal(badTtl.code, 2);
    assert.match(badTtl.err, /--ttl: expected a duration/);
    const tooFew = await runCapture(['break-glass', 'analyst-bot'], '', env('alice'));
    assert.equal(tooFew.code, 2);
    // Over 24h is the daemon's to refuse, naming the field.
    const long = await runCapture(['break-glass', 'analyst-bot', 'tickets.update', '--reason', 'x', '--ttl', '25h', '--json'], '', env('alice'));
    assert.equal(long.code, 1);
    assert.match((JSON.parse(long.out) as { error: string }).error, /INVALID_ARGUMENT: ttl_seconds: at most 86400/);
  });
});
