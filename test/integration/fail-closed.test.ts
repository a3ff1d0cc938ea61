import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { ApprovalStatements, LeaseStatements, Store } from '../../src/store/store';
import { makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';

const diskError = (): Error => new Error('SQLITE_IOERR: disk I/O error at /var/lib/broker.db (password=hunter2)');

/**
 * A real SQLite store whose chosen methods fail, as a broken disk or database
 * would. A failing `insertLease` fails the lease inserts run inside an
 * evidence append (Store.statements) too: RequestLease stores its lease there.
 */
function faultyStore(inner: SqliteStore, failing: Set<keyof Store>): Store {
  const statements: LeaseStatements & ApprovalStatements = {
    ...inner.statements,
    renewLease: (...args) => inner.statements.renewLease(...args),
    endLease: (...args) => {
      if (failing.has('endLease')) throw diskError();
      return inner.statements.endLease(...args);
    },
    markCredentialRevoked: (...args) => {
      if (failing.has('markCredentialRevoked')) throw diskError();
      return inner.statements.markCredentialRevoked(...args);
    },
    insertLeaseWithin: (...args) => {
      if (failing.has('insertLease')) throw diskError();
      return inner.statements.insertLeaseWithin(...args);
    },
  };
  return new Proxy(inner, {
    get(target, prop, recv) {
      if (prop === 'statements') return statements;
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (failing.has(prop as keyof Store)) return Promise.reject(diskError());
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Store;
}

describe('errors while deciding never allow (invariant 1)', function () {
  this.timeout(30_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  const failing = new Set<keyof Store>();
  let inner: SqliteStore;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    inner = new SqliteStore({ path: path.join(tmp.dir, 'broker.db') });
    broker = await startBroker({ pki, dir: tmp.dir, store: faultyStore(inner, failing) });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });
  afterEach(() => failing.clear());

  const request = () =>
    call<unknown, { status: string }>(broker.clientFor('agents', 'support-bot').agent, 'RequestLease', {
      action: 'tickets.update',
      resource: 'ticket/T-1',
      params: { fields: { ticket: { stringValue: 'T-1' } } },
    });

  for (const method of ['getTrust', 'countActiveLeases', 'insertLease'] as const) {
    it(`a failing ${method} is an error, never a grant, and leaks no backend text`, async () => {
      failing.add(method);
      const err = await request().then(
        (r) => assert.fail(`expected an error, got ${JSON.stringify(r)}`),
        (e: grpc.ServiceError) => e,
      );
      assert.ok([grpc.status.UNAVAILABLE, grpc.status.INTERNAL].includes(err.code), grpc.status[err.code]);
      assert.doesNotMatch(err.details, /hunter2|SQLITE|broker\.db/);
      assert.deepEqual(await inner.listLeases({ limit: 10 }), [], 'no lease was stored');
    });
  }

  it('works again once the store recovers', async () => {
    assert.equal((await request()).status, 'GRANTED');
  });
});
