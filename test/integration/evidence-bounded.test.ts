import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { call } from '../../src/client/grpc-client';
import { ManualClock } from '../../src/lib/clock';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker } from '../helpers/broker-harness';
import { expectDenied } from '../helpers/expect-denial';

describe('bounded evidence per agent over the real daemon', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let broker: RunningBroker;
  before(async () => {
    tmp = tempDir();
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const raw = baseRawConfig(pki, tmp.dir);
    (raw['agents'] as Record<string, unknown>)['analyst-bot'] = {
      id: 'spiffe://example.org/agent/analyst-bot',
      groups: ['analysts'],
      limits: { requests_per_second: 10000, burst: 10000, evidence_bytes_per_minute: 8192 },
    };
    // A clock that stays inside one minute, so the per-minute budget does not reset mid-test.
    broker = await startBroker({ pki, dir: tmp.dir, raw, clock: new ManualClock(Date.UTC(2026, 10, 26, 12, 0, 5)) });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('folds repeated identical denials into one entry, and a flood of distinct ones stays bounded', async () => {
    const ledger = broker.app.ledger!;
    const c = broker.clientFor('agents', 'analyst-bot');
    const deny = (ticket: string) =>
      call<unknown, LeaseResponse__Output>(c.agent, 'RequestLease', { action: 'tickets.update', resource: `ticket/${ticket}`, params: { fields: { ticket: { stringValue: ticket } } } });
    const before = ledger.size;
    const first = await deny('T-1');
    expectDenied(first);
    for (let i = 0; i < 100; i++) expectDenied(await deny('T-1'));
    assert.equal(ledger.size, before + 1, 'one entry for 101 identical denials so far');
    // 1000 distinct denials: past the agent's 8 KiB/min budget they fold into one flood window.
    for (let i = 0; i < 1000; i++) await deny(`X-${i}`);
    const grown = ledger.size - before;
    assert.ok(grown < 40, `1101 denials wrote ${grown} entries`);
    // Another agent's grant is recorded as usual.
    const s = broker.clientFor('agents', 'support-bot');
    const g = await call<unknown, LeaseResponse__Output>(s.agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-1', params: { fields: { ticket: { stringValue: 'T-1' } } } });
    assert.equal(g.status, 'GRANTED');
    assert.ok(g.evidence && Number(g.evidence.index) >= before);
  });
});
