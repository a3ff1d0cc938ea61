import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import type { Approval__Output } from '../../src/gen/secretbroker/v1/Approval';
import type { BreakGlassResponse__Output } from '../../src/gen/secretbroker/v1/BreakGlassResponse';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import { loadPolicySet } from '../../src/policy';
import { actionsPermittedFor } from '../../src/policy/policy-lint';
import type { Report } from '../../src/report/report-measures';
import { runCapture } from '../helpers/run-cli';
import { expectDenied } from '../helpers/expect-denial';
import { HELPDESK_TOKEN, seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker } from '../helpers/broker-harness';

const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

/**
 * The scripted run `report` is checked against: the real daemon over mTLS, a
 * real HTTPS upstream, a fake clock (so times to decide and to revoke are
 * exact), then stopped; the report reads the log with the daemon down.
 */
describe('secret-broker report over a scripted run', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let upstream: HttpsUpstream;
  let configFile: string;
  const t0 = Date.UTC(2026, 10, 30, 9, 0, 0); // a Monday
  const clock = new ManualClock(t0);

  before(async () => {
    tmp = tempDir('sb-report-');
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot', 'analyst-bot'], ['alice', 'bob', 'carol', 'dave']);
    upstream = await startHttpsUpstream({ secret: HELPDESK_TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    const caFile = writeCaBundle(tmp.dir, [upstream]);
    const http = (extra: Record<string, unknown>) => ({ base_url: `https://helpdesk.test:${upstream.port}`, ca_files: [caFile], auth: { bearer: 'helpdesk-token' }, allow_networks: ['127.0.0.0/8'], ...extra });
    const raw = baseRawConfig(pki, tmp.dir, {
      actions: {
        'tickets.update': { http: http({ methods: ['PUT', 'GET'], paths: ['/tickets/{id}'], context: { ticket: 'path.id' } }), resource: 'ticket/{ticket}', max_uses: 5 },
        'billing.refund': { http: http({ methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } }), resource: 'stripe', max_uses: 1 },
        // No rule permits it: policy coverage names it.
        'tickets.delete': { http: http({ methods: ['DELETE'], paths: ['/tickets/{id}'], context: { ticket: 'path.id' } }), resource: 'ticket/{ticket}' },
      },
      agents: {
        'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' },
        'analyst-bot': { id: 'spiffe://example.org/agent/analyst-bot', groups: ['analysts'], owner: 'dave' },
      },
      operators: {
        alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor'] },
        bob: { id: 'spiffe://example.org/human/bob', roles: ['approver'] },
        carol: { id: 'spiffe://example.org/human/carol', roles: ['auditor'] },
        dave: { id: 'spiffe://example.org/human/dave', roles: ['admin'] },
      },
      approvals: { finance: { approvers: ['alice', 'bob'], required: 1, expires: '15m' } },
    });
    // Support may also close tickets but never does in the run: over-granted, and the report suggests a narrower permit.
    (raw['actions'] as Record<string, unknown>)['tickets.close'] = { http: http({ methods: ['POST'], paths: ['/tickets/{id}/close'], context: { ticket: 'path.id' } }), resource: 'ticket/{ticket}' };
    writeFileSync(path.join(String(raw['policies']), 'close.cedar'), '@id("tickets-close-support")\n@reason("Support closes tickets.")\npermit (principal in Group::"support", action == Action::"tickets.close", resource);\n');
    configFile = path.join(tmp.dir, 'config.yaml');
    writeFileSync(configFile, stringify(raw));
    await seedLocalSecrets(raw, { 'helpdesk-token': HELPDESK_TOKEN });
    const broker: RunningBroker = await startBroker({ pki, dir: tmp.dir, raw, clock, reaperIntervalMs: 50, resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']]])) });
    try {
      await script(broker);
    } finally {
      await broker.close();
      await upstream.close();
    }
  });
  after(() => tmp?.cleanup());

  async function script(broker: RunningBroker): Promise<void> {
    const support = (): BrokerClients['agent'] => broker.clientFor('agents', 'support-bot').agent;
    const analyst = (): BrokerClients['agent'] => broker.clientFor('agents', 'analyst-bot').agent;
    const op = (name: string): BrokerClients['operator'] => broker.clientFor('operators', name).operator;
    const lease = (agent: BrokerClients['agent'], action: string, params: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action, params: { fields: params }, ...extra });
    const ticket = (id: string) => ({ ticket: { stringValue: id } });
    const amount = (cents: number) => ({ amount: { numberValue: cents } });
    const put = (agent: BrokerClients['agent'], leaseId: string, id: string) => call<unknown, InvokeResponse__Output>(agent, 'Invoke', { leaseId, method: 'PUT', path: `/tickets/${id}`, body: Buffer.from('{"status":"open"}') });
    const refund = (leaseId: string, cents: number) =>
      call<unknown, InvokeResponse__Output>(support(), 'Invoke', { leaseId, method: 'POST', path: '/v1/refunds', headers: [{ name: 'content-type', value: 'application/json' }], body: Buffer.from(JSON.stringify({ amount: cents })) });

    // Grants and uses: a ticket lease of 5 uses, 2 spent; a small refund (1 use) spent.
    const t1 = await lease(support(), 'tickets.update', ticket('T-1'), { maxUses: 5 });
    assert.equal(t1.status, 'GRANTED', JSON.stringify(t1.explanation));
    assert.equal((await put(support(), t1.lease!.leaseId, 'T-1')).statusCode, 200);
    assert.equal((await put(support(), t1.lease!.leaseId, 'T-1')).statusCode, 200);
    clock.advance(60_000);
    const r1 = await lease(support(), 'billing.refund', amount(3000));
    assert.equal(r1.status, 'GRANTED', JSON.stringify(r1.explanation));
    assert.equal((await refund(r1.lease!.leaseId, 3000)).statusCode, 200);
    // Denials: over every refund rule; an analyst on tickets (no rule for analysts).
    expectDenied(await lease(support(), 'billing.refund', amount(90_000)));
    expectDenied(await lease(analyst(), 'tickets.update', ticket('T-7')));
    // An approval asked and decided 2 minutes later; another left to expire.
    const big = await lease(support(), 'billing.refund', amount(20_000), { purpose: 'customer 4711' });
    assert.equal(big.status, 'PENDING_APPROVAL', JSON.stringify(big.explanation));
    clock.advance(120_000);
    const decided = await call<unknown, Approval__Output>(op('bob'), 'DecideApproval', { approvalId: big.approvalId, approve: true, reason: 'double charge' });
    assert.equal(decided.state, 'APPROVED');
    const redeemed = await lease(support(), 'billing.refund', amount(20_000), { purpose: 'customer 4711', approvalId: big.approvalId });
    assert.equal(redeemed.status, 'GRANTED', JSON.stringify(redeemed.explanation));
    const stale = await lease(support(), 'billing.refund', amount(30_000), { purpose: 'customer 4712' });
    assert.equal(stale.status, 'PENDING_APPROVAL');
    clock.advance(16 * 60_000);
    await until(async () => (await call<unknown, Approval__Output>(op('bob'), 'GetApproval', { approvalId: stale.approvalId })).state === 'APPROVAL_EXPIRED');
    // A second ticket lease, then a trust drop (to restricted) revokes both ticket leases.
    const t2 = await lease(support(), 'tickets.update', ticket('T-2'));
    assert.equal(t2.status, 'GRANTED');
    clock.advance(30_000);
    const drop = await call<unknown, { tier: string; leasesRevoked: number }>(op('alice'), 'SetTrust', { agent: 'support-bot', score: 350, reason: 'eval failed' });
    assert.equal(drop.tier, 'restricted');
    // Break-glass: alice asks, bob confirms, the analyst gets a lease under it; nobody has reviewed it yet.
    const bg = await call<unknown, BreakGlassResponse__Output>(op('alice'), 'BreakGlass', { agent: 'analyst-bot', action: 'tickets.update', resource: 'ticket/T-9', reason: 'INC-42 <script>alert(1)</script>', ttlSeconds: 600 });
    await call(op('bob'), 'ConfirmBreakGlass', { overrideId: bg.override!.overrideId, note: 'checked INC-42' });
    const under = await lease(analyst(), 'tickets.update', ticket('T-9'));
    assert.equal(under.status, 'GRANTED', JSON.stringify(under.explanation));
    assert.equal((await put(analyst(), under.lease!.leaseId, 'T-9')).statusCode, 200);
    // A denial recorded before explanations were: it counts against the explainability target.
    await broker.app.ledger!.append([{ type: 'decision', agent: 'support-bot', action: 'tickets.delete', resource: 'ticket/T-3', decision: { effect: 'deny', policies: [], policy_version: broker.app.policy.version }, trust: { score: 350, tier: 'restricted' } }]);
  }

  async function until(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('timed out');
  }

  const report = async (...extra: string[]) => {
    const r = await runCapture(['report', '--config', configFile, '--since', new Date(t0 - 1000).toISOString(), ...extra]);
    assert.equal(r.code, 0, r.err);
    return r;
  };
  const json = async (...extra: string[]): Promise<Report> => JSON.parse((await report('--json', ...extra)).out) as Report;

  it('policy coverage: each configured action, whether a rule can permit it, and every grant and use passed the decision point', async () => {
    const c = (await json()).policy_coverage;
    assert.deepEqual(c.actions.map((a) => [a.action, a.permitted]), [['billing.refund', true], ['tickets.close', true], ['tickets.delete', false], ['tickets.update', true]]);
    assert.match(c.actions[2]!.finding!, /no rule can permit tickets\.delete/);
    assert.equal(c.actions_unpermitted, 1);
    // Decisions: 2 grants, 5 with obligations (4 ticket/approval ones and the redemption), 2 denials, the old-style denial appended below.
    assert.deepEqual(c.by_effect, { allow_with_obligations: 5, allow: 2, deny: 3 });
    assert.equal(c.decisions, 10);
    assert.deepEqual([c.leases_issued, c.leases_with_decision, c.invokes, c.invokes_with_lease], [5, 5, 4, 4]);
    assert.deepEqual(c.unproven, []);
    assert.equal(c.all_decided, true);
  });

  it('scope grant reduction: uses granted and spent, actions permitted and invoked, by week; a narrower permit for the over-granted agent', async () => {
    const s = (await json()).scope_reduction;
    const support = s.agents.find((a) => a.agent === 'support-bot')!;
    assert.deepEqual(support.actions_permitted, ['billing.refund', 'tickets.close', 'tickets.update']);
    assert.deepEqual(support.actions_invoked, ['billing.refund', 'tickets.update']);
    // Leases of 5 + 1 + 1 (approved) + 1 uses; 2 ticket updates and 1 refund made.
    assert.deepEqual([support.leases, support.uses_granted, support.uses_spent], [4, 8, 3]);
    assert.deepEqual(support.weeks, [{ week: '2026-11-30', leases: 4, uses_granted: 8, uses_spent: 3, actions_invoked: ['billing.refund', 'tickets.update'] }]);
    assert.equal(support.over_granted, true);
    // The suggestion is Cedar that loads, and permits exactly what was used.
    const dir = path.join(tmp.dir, 'suggested');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'suggested.cedar'), support.suggested_permit!);
    const set = await loadPolicySet(dir);
    assert.deepEqual(actionsPermittedFor(set, ['billing.refund', 'tickets.close', 'tickets.delete', 'tickets.update'], { name: 'support-bot', groups: ['support'] }), ['billing.refund', 'tickets.update']);
    const analyst = s.agents.find((a) => a.agent === 'analyst-bot')!;
    assert.deepEqual([analyst.actions_permitted, analyst.actions_invoked, analyst.leases, analyst.uses_granted, analyst.uses_spent, analyst.over_granted], [[], ['tickets.update'], 1, 1, 1, false]);
    assert.equal(analyst.suggested_permit, undefined);
    assert.equal(s.over_granted, 1);
  });

  it('trust-aware gating: the drop, the lease it revoked, and the time from signal to revocation', async () => {
    const t = (await json()).trust_gating;
    assert.equal(t.drops, 1);
    assert.equal(t.leases_revoked, 1);
    const [d] = t.rows;
    assert.deepEqual({ agent: d!.agent, from: d!.from, to: d!.to, by: d!.by, revoked: d!.leases_revoked, seconds: d!.revocation_seconds }, { agent: 'support-bot', from: { score: 600, tier: 'standard' }, to: { score: 350, tier: 'restricted' }, by: 'operator:alice', revoked: 1, seconds: 0 });
    assert.deepEqual(t.time_to_revoke_seconds, { count: 1, p50: 0, p90: 0, max: 0 });
  });

  it('manual override clarity: approvals requested, decided, expired, time to decide; break-glass uses and review state', async () => {
    const m = (await json()).manual_override;
    assert.deepEqual({ ...m.approvals }, { requested: 2, approved: 1, rejected: 0, expired: 1, time_to_decide_seconds: { count: 1, p50: 120, p90: 120, max: 120 } });
    assert.deepEqual([m.breakglass.overrides, m.breakglass.uses, m.breakglass.reviewed, m.breakglass.unreviewed], [1, 1, 0, 1]);
    const [o] = m.breakglass.rows;
    assert.deepEqual([o!.agent, o!.action, o!.requested_by, o!.confirmed_by, o!.state, o!.reviewed, o!.reason], ['analyst-bot', 'tickets.update', 'alice', 'bob', 'active', false, 'INC-42 <script>alert(1)</script>']);
  });

  it('denied-action explainability: the share of denials with a deciding rule or candidate and a hint, and the most frequent reasons', async () => {
    const x = (await json()).explainability;
    // Two denials of the daemon, both explained; one entry from before explanations were recorded, not.
    assert.deepEqual([x.denials, x.explained], [3, 2]);
    assert.equal(x.share, 2 / 3);
    assert.deepEqual(x.top_reasons, [
      { reason: 'conditions failed: billing-refund-small, billing-refund-approved', count: 1 },
      { reason: 'conditions failed: tickets-update-support', count: 1 },
      { reason: 'no explanation recorded', count: 1 },
    ]);
  });

  it('the window: --until before the run sees no decisions; the human form names the five measures', async () => {
    const empty = await json('--until', new Date(t0 - 500).toISOString());
    assert.equal(empty.policy_coverage.decisions, 0);
    assert.equal(empty.manual_override.approvals.requested, 0);
    assert.equal(empty.explainability.share, null);
    const human = (await report()).out;
    for (const m of ['1. policy coverage', '2. scope grant reduction', '3. trust-aware gating', '4. manual override clarity', '5. denied-action explainability']) assert.ok(human.includes(m), m);
    assert.match(human, /every grant \(5\) and use \(4\) passed the decision point/);
    assert.match(human, /2 of 3 denials explained \(66\.7 %/);
  });

  it('--html writes one self-contained file that headless Chromium opens, with SVG charts and nothing fetched', async () => {
    const file = path.join(tmp.dir, 'report.html');
    await report('--html', file);
    const html = readFileSync(file, 'utf8');
    assert.doesNotMatch(html, /https?:\/\//);
    assert.doesNotMatch(html, /\ssrc=|\shref=|<script|<link|@import|url\(/i);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;/);
    // puppeteer-core ships its types as an ES module: imported dynamically from this CommonJS test.
    const { default: puppeteer } = await import('puppeteer-core');
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
    try {
      const page = await browser.newPage();
      const requested: string[] = [];
      page.on('request', (r) => void requested.push(r.url()));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      // A string, evaluated in the page (the test is compiled without the DOM's types).
      const counts = (await page.evaluate(`({
        charts: document.querySelectorAll('svg.chart').length,
        bars: document.querySelectorAll('svg.chart rect.bar').length,
        sections: Array.from(document.querySelectorAll('section h2')).map((e) => e.textContent),
        scripts: document.querySelectorAll('script').length,
        cells: Array.from(document.querySelectorAll('#override td')).map((e) => e.textContent),
      })`)) as { charts: number; bars: number; sections: string[]; scripts: number; cells: string[] };
      // One chart per measure; bars: 3 effects, 2 agents x 2, 1 drop, 4 approval counts, 3 reasons.
      assert.equal(counts.charts, 5);
      assert.equal(counts.bars, 3 + 4 + 1 + 4 + 3);
      assert.deepEqual(counts.sections, ['1. Policy coverage', '2. Scope grant reduction', '3. Trust-aware gating', '4. Manual override clarity', '5. Denied-action explainability']);
      assert.deepEqual(requested, [pathToFileURL(file).href]);
      // Free text from the log (the override's reason) is shown as text, never run.
      assert.equal(counts.scripts, 0);
      assert.ok(counts.cells.includes('INC-42 <script>alert(1)</script>'), counts.cells.join(' | '));
      // A picture for the README and the lead: the page as Chromium drew it.
      const shots = process.env['REPORT_SCREENSHOT_DIR'];
      if (shots) {
        mkdirSync(shots, { recursive: true });
        await page.screenshot({ path: path.join(shots, 'report.png'), fullPage: true });
      }
    } finally {
      await browser.close();
    }
  });
});
