import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { ApprovalService, type ApprovalBinding } from '../../../src/approvals/approval-service';
import type { AgentConfig, ApprovalGroupConfig, OperatorConfig } from '../../../src/config/config-types';
import { DEFAULT_LIMITS } from '../../../src/config/compile';
import type { Ledger } from '../../../src/evidence/ledger/ledger';
import { openEvidence } from '../../../src/evidence/ledger/wire';
import { ManualClock } from '../../../src/lib/clock';
import { IdSource } from '../../../src/lib/ids';
import { createLogger } from '../../../src/lib/logger';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { readEntries } from '../../helpers/evidence-entries';
import { LogCapture, tempDir } from '../../helpers/broker-harness';

const SUPPORT: AgentConfig = { name: 'support-bot', id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice', limits: DEFAULT_LIMITS };
const operator = (name: string): OperatorConfig => ({ name, id: `spiffe://example.org/human/${name}`, roles: ['approver'] });
const group = (name: string, approvers: string[], required = 1): ApprovalGroupConfig => ({ name, approvers, required, expiresMs: 900_000 });
const TRUST = { score: 650, tier: 'standard', fresh: true };
const binding = (over: Partial<ApprovalBinding> = {}): ApprovalBinding => ({
  agent: 'support-bot',
  action: 'billing.refund',
  resource: 'stripe',
  params: { amount: 50000 },
  purpose: 'refund order A-1',
  ttl_seconds: 300,
  max_uses: 1,
  rule: 'billing-refund-approved',
  policy_version: 'sha256:v1',
  ...over,
});

/** Review of the approval service against a real SQLite store and evidence log (fake clock). */
describe('approvals review: the service under concurrency, against the real store and log', function () {
  this.timeout(20_000);
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let ledger: Ledger;
  let clock: ManualClock;
  let approvals: ApprovalService;
  const log = createLogger({ level: 'silent', destination: new LogCapture() });

  beforeEach(async () => {
    tmp = tempDir('sb-approvals-review-');
    store = new SqliteStore({ path: path.join(tmp.dir, 'b.db') });
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    ledger = await openEvidence({
      config: { devMode: true, evidence: { origin: 'test.example/approvals-review', signingKey: path.join(tmp.dir, 'evidence.key'), keyOverlapMs: 0, witnesses: [] } },
      store,
      clock,
      log,
    });
    approvals = new ApprovalService({
      config: { approvals: { finance: group('finance', ['alice', 'bob', 'carol']) }, agents: { 'support-bot': SUPPORT } },
      store,
      clock,
      ids: new IdSource(),
      evidence: ledger,
      log,
      intervalMs: 20,
    });
  });
  afterEach(async () => {
    await approvals.stop();
    await ledger.close();
    await store.close();
    tmp.cleanup();
  });

  it('20 concurrent identical requests open one approval (one approval.requested), not twenty for the approvers to approve one by one', async () => {
    const opened = await Promise.all(Array.from({ length: 20 }, () => approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log)));
    assert.equal(new Set(opened.map((o) => o.id)).size, 1, 'one approval');
    assert.equal((await store.listApprovals({ agent: 'support-bot', limit: 100 })).length, 1);
    const requested = (await readEntries<{ type: string }>(ledger)).filter((e) => e.type === 'approval.requested');
    assert.equal(requested.length, 1);
    // A different request is still a different approval.
    const other = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ params: { amount: 50001 } }), trust: TRUST }, log);
    assert.notEqual(other.id, opened[0]!.id);
    // Once decided, the same request asks again: a new approval.
    await approvals.decide(operator('bob'), opened[0]!.id, false, 'no', log);
    const again = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    assert.notEqual(again.id, opened[0]!.id);
  });
});
