import { strict as assert } from 'node:assert';
import { CredentialMisuse } from '../../../src/broker/credential-misuse';
import type { LeaseRecord } from '../../../src/leases/lease';
import { createLogger } from '../../../src/lib/logger';
import { LogCapture } from '../../helpers/broker-harness';

/** The lease side of a misused credential (the PostgreSQL side is in test/integration/postgres-leases.test.ts). */
describe('CredentialMisuse: a misused credential ends its lease and lowers its agent trust, once', () => {
  const handle = { backend: 'appdb', id: 'sb_0123' };
  const lease = (status: LeaseRecord['status']): LeaseRecord => ({ id: 'L1', agent: 'support-bot', action: 'analytics.query', status }) as LeaseRecord;

  function build(opts: { status?: LeaseRecord['status']; revokes?: boolean; storeFails?: boolean } = {}) {
    let status = opts.status ?? 'active';
    const revoked: Array<{ ids: readonly string[]; reason: string }> = [];
    const raised: Array<{ agent: string; kind: string; detail: string }> = [];
    const logs = new LogCapture();
    const m = new CredentialMisuse({
      store: {
        leaseOfCredential: async (backend, id) => {
          if (opts.storeFails) throw new Error('disk I/O error');
          return backend === handle.backend && id === handle.id ? lease(status) : undefined;
        },
      },
      leases: {
        revokeByBroker: async (ids, reason, _log, onEnded) => {
          revoked.push({ ids, reason });
          // Like the store's conditional end: only a live lease ends, once.
          const ended = opts.revokes === false || status !== 'active' ? [] : [lease('revoked')];
          status = 'revoked';
          onEnded?.(ended);
          return ended;
        },
      },
      signals: { raise: (agent, kind, detail) => void raised.push({ agent, kind, detail }) },
      log: createLogger({ level: 'info', destination: logs }),
    });
    return { m, revoked, raised, logs };
  }

  it('revokes the active lease with the reason and raises broker.credential_misuse; a second report of the same credential does nothing', async () => {
    const { m, revoked, raised, logs } = build();
    m.report(handle, 'held the lock');
    await m.settled();
    m.report(handle, 'held the lock');
    await m.settled();
    assert.deepEqual(revoked, [{ ids: ['L1'], reason: 'its credential held the lock' }]);
    assert.equal(raised.length, 1);
    assert.deepEqual({ agent: raised[0]!.agent, kind: raised[0]!.kind }, { agent: 'support-bot', kind: 'broker.credential_misuse' });
    assert.match(raised[0]!.detail, /lease L1 \(analytics\.query\): its credential held the lock/);
    assert.match(logs.text, /lease revoked by the broker: its credential held the lock/);
  });

  it('a lease that had already ended (its agent revoked it first) is not revoked again, but its agent still gets the signal', async () => {
    for (const status of ['revoked', 'expired', 'revoke_failed'] as const) {
      const { m, revoked, raised } = build({ status });
      m.report(handle, 'held the lock');
      await m.settled();
      assert.deepEqual([revoked.length, raised.length], [0, 1], status);
      assert.equal(raised[0]!.agent, 'support-bot');
    }
    // Ended by another path between the lookup and the revoke: the signal all the same.
    const raced = build({ revokes: false });
    raced.m.report(handle, 'held the lock');
    await raced.m.settled();
    assert.deepEqual([raced.revoked.length, raced.raised.length], [1, 1]);
  });

  it('two reports of one credential at once: one revoke, one signal', async () => {
    const { m, revoked, raised } = build();
    m.report(handle, 'held the lock');
    m.report(handle, 'awaited the lock');
    await m.settled();
    assert.deepEqual([revoked.length, raised.length], [1, 1]);
  });

  it('a credential no lease of this broker owns (another deployment on a shared server) is logged and left alone', async () => {
    const { m, revoked, raised, logs } = build();
    m.report({ backend: 'appdb', id: 'sb_other' }, 'held the lock');
    await m.settled();
    assert.deepEqual([revoked.length, raised.length], [0, 0]);
    assert.match(logs.text, /no lease of this broker owns it/);
  });

  it('after stop(), a report is only logged', async () => {
    const { m, revoked, raised, logs } = build();
    await m.stop();
    m.report(handle, 'held the lock');
    await m.settled();
    assert.deepEqual([revoked.length, raised.length], [0, 0]);
    assert.match(logs.text, /reported while the daemon stops/);
  });

  it('a store that fails is logged, never thrown at the backend that reported', async () => {
    const { m, raised, logs } = build({ storeFails: true });
    m.report(handle, 'held the lock');
    await m.settled();
    assert.equal(raised.length, 0);
    assert.match(logs.text, /could not revoke the lease of a misused credential/);
  });
});
