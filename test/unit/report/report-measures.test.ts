import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { BrokerConfig } from '../../../src/config/config-types';
import { createPolicyEngine, loadPolicySet, type PolicyEngine } from '../../../src/policy';
import { renderHtml } from '../../../src/report/report-html';
import { buildReport, quantiles, weekOf, type Report } from '../../../src/report/report-measures';

const DEV_POLICIES = path.resolve(__dirname, '../../../deploy/dev/policies');
const T = Date.UTC(2026, 10, 30, 9, 0, 0);

/** The config as far as the report reads it. */
const config = {
  agents: { 'support-bot': { name: 'support-bot', groups: ['support'] }, 'analyst-bot': { name: 'analyst-bot', groups: ['analysts'] } },
  actions: { 'tickets.update': { name: 'tickets.update', http: {} }, 'analytics.query': { name: 'analytics.query', postgres: {} } },
} as unknown as Pick<BrokerConfig, 'agents' | 'actions'>;

type Draft = Record<string, unknown> & { type: string };

/** A log from drafts: index and time (one second apart from T, or `at` seconds) added as the ledger would. */
function source(drafts: readonly Draft[]) {
  const entries = drafts.map((d, index) => {
    const { at, ...rest } = d as Draft & { at?: number };
    return { index, bytes: Buffer.from(JSON.stringify({ ...rest, index, time: new Date(T + (at ?? index) * 1000).toISOString() })) };
  });
  return {
    size: async () => entries.length,
    async *entries(start: number, end: number) {
      yield* entries.slice(start, end);
    },
  };
}

const decision = (agent: string, action: string, resource: string, effect: string, extra: Record<string, unknown> = {}): Draft => ({ type: 'decision', agent, action, resource, decision: { effect, policies: [], policy_version: 'v' }, ...extra });
const issued = (agent: string, action: string, resource: string, id: string, maxUses = 1): Draft => ({ type: 'lease.issued', agent, action, resource, lease: { id, max_uses: maxUses, uses_left: maxUses } });
const intent = (agent: string, action: string, resource: string, id: string, use = 1): Draft => ({ type: 'invoke.intent', agent, action, resource, lease: { id, use } });

describe('report measures (synthetic logs)', () => {
  let policy: PolicyEngine;
  before(async () => {
    policy = createPolicyEngine(await loadPolicySet(DEV_POLICIES));
  });
  const run = (drafts: readonly Draft[], window: { since?: number; until?: number } = {}, extra: { onProgress?: (r: number, t: number) => void; progressEvery?: number } = {}): Promise<Report> =>
    buildReport({ config, policy, source: source(drafts), since: window.since ?? T - 1000, until: window.until ?? T + 86_400_000, ...extra });

  it('a grant with no decision before it, or a use of a lease that was never granted after one, is named: not all decided', async () => {
    const r = await run([
      decision('support-bot', 'tickets.update', 'ticket/T-1', 'allow'),
      issued('support-bot', 'tickets.update', 'ticket/T-1', 'l1', 3),
      intent('support-bot', 'tickets.update', 'ticket/T-1', 'l1'),
      // No decision for T-2; a denial for T-3 does not license a grant either.
      issued('support-bot', 'tickets.update', 'ticket/T-2', 'l2'),
      decision('support-bot', 'tickets.update', 'ticket/T-3', 'deny'),
      issued('support-bot', 'tickets.update', 'ticket/T-3', 'l3'),
      intent('support-bot', 'tickets.update', 'ticket/T-9', 'l9'),
    ]);
    const c = r.policy_coverage;
    assert.deepEqual([c.leases_issued, c.leases_with_decision, c.invokes, c.invokes_with_lease], [3, 1, 2, 1]);
    assert.deepEqual(c.unproven, [3, 5, 6]);
    assert.equal(c.all_decided, false);
  });

  it('one decision licenses one grant; an approval-opening decision licenses none; a lease granted before the window proves uses inside it', async () => {
    const r = await run(
      [
        decision('support-bot', 'tickets.update', 'ticket/T-1', 'allow_with_obligations', { at: -100 }),
        { ...issued('support-bot', 'tickets.update', 'ticket/T-1', 'l1', 5), at: -100 },
        { ...intent('support-bot', 'tickets.update', 'ticket/T-1', 'l1', 1), at: 5 },
        // A second grant on the one decision is not proven.
        { ...issued('support-bot', 'tickets.update', 'ticket/T-1', 'l2'), at: 6 },
        { ...decision('support-bot', 'tickets.update', 'ticket/T-5', 'allow_with_obligations', { explanation: { hint: 'ask finance' } }), decision: { effect: 'allow_with_obligations', approvals: ['finance'] }, at: 7 },
        { ...issued('support-bot', 'tickets.update', 'ticket/T-5', 'l5'), at: 8 },
        // The lease ends: a later use of it is not proven.
        { type: 'lease.revoked', agent: 'support-bot', action: 'tickets.update', resource: 'ticket/T-1', lease: { id: 'l1' }, at: 9 },
        { ...intent('support-bot', 'tickets.update', 'ticket/T-1', 'l1', 2), at: 10 },
      ],
      { since: T },
    );
    const c = r.policy_coverage;
    assert.deepEqual([c.leases_issued, c.leases_with_decision, c.invokes, c.invokes_with_lease], [2, 0, 2, 1]);
    assert.deepEqual(c.unproven, [3, 5, 7]);
  });

  it('folded denials count one by one; explained needs a deciding rule or candidate and a hint', async () => {
    const explained = { deciding_policies: [], candidates: [{ id: 'tickets-update-support', failed_conditions: ['x'] }], hint: 'ask your owner', summary: 's' };
    const r = await run([
      decision('analyst-bot', 'tickets.update', 'ticket/T-1', 'deny', { explanation: explained }),
      decision('analyst-bot', 'tickets.update', 'ticket/T-1', 'deny', { explanation: explained, folded_count: 4, first_index: 0 }),
      decision('analyst-bot', 'tickets.update', 'ticket/T-2', 'deny', { explanation: { ...explained, hint: '' } }),
      decision('analyst-bot', 'tickets.update', 'ticket/T-3', 'deny', { explanation: { ...explained, candidates: [] } }),
    ]);
    assert.equal(r.policy_coverage.decisions, 7);
    // Explained: the first and the four folded into it; not the one without a hint, nor the one with no rule at all.
    assert.deepEqual([r.explainability.denials, r.explainability.explained, r.explainability.share], [7, 5, 5 / 7]);
    assert.deepEqual(r.explainability.top_reasons, [
      { reason: 'conditions failed: tickets-update-support', count: 6 },
      { reason: 'no rule covers the action', count: 1 },
    ]);
  });

  it('scope: a dynamic-credential lease is its use; an agent permitted what it never used gets a narrower permit', async () => {
    const r = await run([
      decision('analyst-bot', 'analytics.query', 'analytics.query', 'allow'),
      issued('analyst-bot', 'analytics.query', 'analytics.query', 'd1'),
      decision('support-bot', 'tickets.update', 'ticket/T-1', 'allow'),
      issued('support-bot', 'tickets.update', 'ticket/T-1', 'l1', 4),
    ]);
    const analyst = r.scope_reduction.agents.find((a) => a.agent === 'analyst-bot')!;
    assert.deepEqual([analyst.actions_permitted, analyst.actions_invoked, analyst.over_granted], [['analytics.query'], ['analytics.query'], false]);
    // support-bot holds a ticket lease but never sent a request: permitted what it did not use.
    const support = r.scope_reduction.agents.find((a) => a.agent === 'support-bot')!;
    assert.deepEqual([support.actions_permitted, support.actions_invoked, support.uses_granted, support.uses_spent, support.over_granted], [['tickets.update'], [], 4, 0, true]);
    assert.match(support.suggested_permit!, /^\/\/ support-bot used nothing in the report window: no permit is needed/);
    assert.equal(r.scope_reduction.over_granted, 1);
  });

  it('progress is reported every N entries read (stderr for long runs)', async () => {
    const calls: Array<[number, number]> = [];
    const drafts = Array.from({ length: 25 }, () => ({ type: 'heartbeat' }));
    const r = await run(drafts, {}, { onProgress: (read, total) => calls.push([read, total]), progressEvery: 10 });
    assert.deepEqual(calls, [[10, 25], [20, 25]]);
    assert.equal(r.window.entries_read, 25);
  });

  it('weeks start on Monday (UTC); quantiles are nearest-rank', () => {
    assert.equal(weekOf(Date.UTC(2026, 10, 30)), '2026-11-30');
    assert.equal(weekOf(Date.UTC(2026, 11, 6, 23, 59)), '2026-11-30');
    assert.equal(weekOf(Date.UTC(2026, 11, 7)), '2026-12-07');
    assert.equal(weekOf(Date.UTC(1970, 0, 4)), '1969-12-29');
    assert.deepEqual(quantiles([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]), { count: 10, p50: 5, p90: 9, max: 10 });
    assert.deepEqual(quantiles([]), { count: 0, p50: null, p90: null, max: null });
  });

  it('the HTML escapes names and reasons from the log: markup in them stays text', async () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const r = await run([{ type: 'breakglass', agent: evil, action: 'tickets.update', breakglass: { id: 'bg_1', event: 'requested', state: 'pending', requested_by: evil, reason: evil } }]);
    const html = renderHtml(r);
    assert.ok(!html.includes('<img'), 'no element from the log');
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;'));
  });
});
