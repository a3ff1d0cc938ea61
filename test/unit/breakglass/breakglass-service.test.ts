import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { BreakGlassService } from '../../../src/breakglass/breakglass-service';
import type { OverrideRecord, OverrideStore } from '../../../src/breakglass/breakglass-store';
import type { BrokerConfig } from '../../../src/config/config-types';
import { ManualClock } from '../../../src/lib/clock';
import { createLogger } from '../../../src/lib/logger';

const active = (over: Partial<OverrideRecord> = {}): OverrideRecord => ({
  id: 'bg_AAAAAAAAAAAAAAAAAAAAAAAA',
  agent: 'a',
  action: 'x',
  resource: '',
  reason: 'r',
  ttlMs: 60_000,
  state: 'active',
  requestedBy: 'alice',
  requestedAt: 0,
  confirmedBy: 'bob',
  confirmedAt: 0,
  expiresAt: Date.UTC(2026, 0, 1) + 60_000,
  version: 2,
  updatedAt: 0,
  ...over,
});

function service(store: Partial<OverrideStore>): { svc: BreakGlassService; logs: string[] } {
  const logs: string[] = [];
  const destination = new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) });
  const svc = new BreakGlassService({
    config: { agents: {}, actions: {} } as unknown as Pick<BrokerConfig, 'agents' | 'actions'>,
    store: store as OverrideStore,
    clock: new ManualClock(Date.UTC(2026, 0, 1)),
    ids: { randomPoolBytes: (n: number) => Buffer.alloc(n) },
    evidence: { append: async () => [] },
    log: createLogger({ level: 'warn', destination }),
  });
  return { svc, logs };
}

describe('breakglass: which override applies (BreakGlassService.applicable)', () => {
  const q = { agent: 'a', action: 'x', resource: 'r/1', tier: 'standard', dryRun: false };

  it('an exact-resource override comes before one for every resource; another resource\'s never applies', async () => {
    const exact = active({ id: 'bg_exact', resource: 'r/1' });
    const any = active({ id: 'bg_any', resource: '' });
    const other = active({ id: 'bg_other', resource: 'r/2' });
    const { svc } = service({ live: async () => [any, other, exact] });
    assert.equal((await svc.applicable(q))?.id, 'bg_exact');
    assert.equal((await service({ live: async () => [other, any] }).svc.applicable(q))?.id, 'bg_any');
    assert.equal(await service({ live: async () => [other] }).svc.applicable(q), undefined);
  });

  it('fails closed: a store that cannot be read means no override (logged), never an allow', async () => {
    const { svc, logs } = service({
      live: async () => {
        throw new Error('disk I/O error');
      },
    });
    assert.equal(await svc.applicable(q), undefined);
    assert.match(logs.join(''), /could not check break-glass overrides; none applies/);
  });

  it('a quarantined agent gets none, even when one is live; a dry run ends nothing', async () => {
    let opened = 0;
    const { svc } = service({ live: async () => [active()], open: async () => (opened++, []) });
    assert.equal(await svc.applicable({ ...q, tier: 'quarantined', dryRun: true }), undefined);
    assert.equal(opened, 0, 'Explain (a dry run) ends nothing');
    assert.equal(await svc.applicable({ ...q, tier: 'quarantined' }), undefined);
    assert.equal(opened, 1, 'a real decision ends the agent\'s open overrides');
  });
});
