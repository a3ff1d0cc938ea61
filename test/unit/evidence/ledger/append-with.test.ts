import { strict as assert } from 'node:assert';
import type { EvidenceDraft } from '../../../../src/evidence/ledger/evidence-sink';
import { BrokerError } from '../../../../src/lib/errors';
import { lease } from '../../../contract/store-contract';
import { LedgerFixture, decision } from './ledger-fixture';

const renewedDraft = (expiresAt: number, id: string): EvidenceDraft => ({ type: 'lease.renewed', lease: { id, expires_at: new Date(expiresAt).toISOString() } });

describe('evidence/ledger: appendWith commits a conditional change with its entries, or neither', function () {
  this.timeout(30_000);
  let fx: LedgerFixture;
  beforeEach(async () => {
    fx = new LedgerFixture();
    await fx.open();
  });
  afterEach(async () => fx.cleanup());

  it('appends the drafts built from what the change stored, in the same commit', async () => {
    const l = lease();
    await fx.store.insertLease(l);
    let commits = 0;
    fx.store.writes.faultInjector = () => void commits++;
    const size = fx.ledger.size;
    const [done] = await Promise.all([
      fx.ledger.appendWith(
        () => fx.store.statements.renewLease(l.id, l.agent, l.maxExpiresAt + 999_999, 1_000_100),
        (r) => [renewedDraft(r.expiresAt, r.id)],
      ),
      fx.ledger.append([decision(1)]),
    ]);
    assert.equal(commits, 1, 'one commit for the change, its entry and the other append');
    assert.equal(done!.value.expiresAt, l.maxExpiresAt, 'the store capped it');
    assert.equal(done!.refs.length, 1);
    const entry = JSON.parse((await fx.ledger.getEntry(done!.refs[0]!.index)).bytes.toString()) as { lease: { expires_at: string } };
    assert.equal(entry.lease.expires_at, new Date(l.maxExpiresAt).toISOString(), 'the entry records the stored expiry');
    assert.equal(fx.ledger.size, size + 2);
  });

  it('appends nothing when the change does not happen', async () => {
    const l = lease();
    await fx.store.insertLease(l);
    await fx.store.endLease(l.id, 'revoked', 'test', 1_000_050);
    const size = fx.ledger.size;
    const done = await fx.ledger.appendWith(
      () => fx.store.statements.renewLease(l.id, l.agent, 1_050_000, 1_000_100),
      (r) => [renewedDraft(r.expiresAt, r.id)],
    );
    assert.equal(done, undefined);
    assert.equal(fx.ledger.size, size);
  });

  it('undoes the change when the log refuses its entries, and keeps the rest of the batch', async () => {
    const l = lease();
    await fx.store.insertLease(l);
    const size = fx.ledger.size;
    const [refused, other] = await Promise.allSettled([
      fx.ledger.appendWith(
        () => fx.store.statements.renewLease(l.id, l.agent, 1_050_000, 1_000_100),
        () => [{ type: 'lease.renewed', index: 7 } as EvidenceDraft],
      ),
      fx.ledger.append([decision(2)]),
    ]);
    assert.equal(refused.status, 'rejected');
    assert.ok((refused as PromiseRejectedResult).reason instanceof BrokerError);
    assert.equal(other.status, 'fulfilled');
    assert.equal((await fx.store.getLease(l.id))!.expiresAt, l.expiresAt, 'the renewal was rolled back');
    assert.equal(fx.ledger.size, size + 1);
  });

  it('a failed commit fails both: the change is not stored', async () => {
    const l = lease();
    await fx.store.insertLease(l);
    fx.store.writes.faultInjector = () => {
      throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    };
    await assert.rejects(
      fx.ledger.appendWith(
        () => fx.store.statements.renewLease(l.id, l.agent, 1_050_000, 1_000_100),
        (r) => [renewedDraft(r.expiresAt, r.id)],
      ),
      (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable',
    );
    fx.store.writes.faultInjector = undefined;
    assert.equal((await fx.store.getLease(l.id))!.expiresAt, l.expiresAt);
  });
});
