import { strict as assert } from 'node:assert';
import { formatLease } from '../../../src/cli/lease-commands';
import type { Lease__Output } from '../../../src/gen/secretbroker/v1/Lease';

const lease = (over: Partial<Lease__Output> = {}): Lease__Output => ({
  leaseId: 'lease_1',
  action: 'reporting.db',
  resource: 'reporting.db',
  status: 'ACTIVE',
  expiresAt: '2026-12-04T20:00:00.000Z',
  usesLeft: 1,
  maxUses: 1,
  maxExpiresAt: '2026-12-04T21:00:00.000Z',
  issuedAt: '2026-12-04T19:55:00.000Z',
  agent: 'support-bot',
  context: null,
  databaseCredential: null,
  revokeReason: '',
  dynamicCredential: false,
  ...over,
});

describe('cli: formatLease', () => {
  it('shows a database login only when the response carries one (RequestLease, to its agent, once)', () => {
    const cred = { host: 'db.internal', port: 5432, database: 'reporting', user: 'v-broker-readonly-x', password: 'A1a-pw' };
    const out = formatLease(lease({ databaseCredential: cred }));
    assert.match(out, /database login \(shown once, valid while the lease is\): v-broker-readonly-x@db\.internal:5432\/reporting/);
    assert.match(out, /password A1a-pw/);
    assert.doesNotMatch(formatLease(lease()), /database login|password/);
  });
});

describe('cli: formatLease of a lease with a dynamic credential (finding F8)', () => {
  it('does not count uses for it (no Invoke spends it), and still counts them for any other lease', () => {
    const db = formatLease(lease({ dynamicCredential: true }));
    assert.doesNotMatch(db, /uses left/);
    assert.match(db, /status ACTIVE, uses not counted \(a database credential: it ends by revocation or expiry\)/);
    assert.match(formatLease(lease({ usesLeft: 2, maxUses: 3 })), /status ACTIVE, 2\/3 uses left/);
  });
});
