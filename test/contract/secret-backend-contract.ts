import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { canList, canPut, type StaticSecretBackend } from '../../src/backends/backend';
import { BrokerError } from '../../src/lib/errors';
import { SecretValue } from '../../src/lib/secret-value';
import { assertNoLeak, expectBrokerError, uniqueSecret } from '../unit/backends/local/local-fixture';

/**
 * One suite every static secret backend passes (backend.ts is the contract):
 * the local sealed store, AWS Secrets Manager on a real moto_server, and Vault
 * on the in-repo Vault API server. A backend is done when this is green.
 *
 * `seed` writes the way an outside writer would (an operator, a console, the
 * vendor's own SDK), not through the backend under test, so reads are checked
 * against what the store really holds. A `field` seeds a structured value
 * (a KV v2 data map, a JSON SecretString) holding `{ [field]: value }`.
 */
export interface SecretBackendHarness {
  backend: StaticSecretBackend;
  seed(name: string, value: string, opts?: { field?: string }): Promise<void>;
  /** The store has structured values, so `field` works (Vault, AWS); false: `field` is invalid_argument (local). */
  fields: boolean;
  /** The store has its own version ids, which the backend reports as `versionId` (AWS). */
  versionIds: boolean;
  cleanup(): Promise<void>;
}

export type SecretBackendFactory = () => Promise<SecretBackendHarness>;

/** Faces of an error that reach a log or a client; none may hold the value. */
function assertErrorClean(err: BrokerError, plain: string, what: string): void {
  for (const [face, text] of [
    ['message', err.message],
    ['String()', String(err)],
    ['stack', String(err.stack)],
    ['util.inspect (with cause)', inspect(err, { depth: 10, showHidden: true })],
    ['JSON', JSON.stringify(err)],
  ] as const) {
    assertNoLeak(text, plain, `${what}: ${face}`);
  }
}

export function secretBackendContract(name: string, factory: SecretBackendFactory): void {
  describe(`secret backend contract: ${name}`, function () {
    this.timeout(30_000);
    let h: SecretBackendHarness;
    let b: StaticSecretBackend;
    /** A name no other test (or run, on a shared store) uses. */
    const fresh = (): string => `ct/${randomBytes(6).toString('hex')}`;
    beforeEach(async () => {
      h = await factory();
      b = h.backend;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('is a static backend with a name and a passing health check', async () => {
      assert.equal(b.type, 'static');
      assert.equal(typeof b.name, 'string');
      await b.health();
    });

    it('get returns the current value with an integer version (and the vendor id where the store has one)', async () => {
      const n = fresh();
      const plain = uniqueSecret();
      await h.seed(n, plain);
      const got = await b.get(n);
      assert.equal(got.value.revealString(), plain);
      assert.ok(got.value instanceof SecretValue);
      assert.ok(Number.isSafeInteger(got.version) && got.version >= 1, `version ${got.version}`);
      if (h.versionIds) assert.ok(typeof got.versionId === 'string' && got.versionId.length > 0, 'versionId');
      else assert.equal(got.versionId, undefined);
      if (got.createdAt !== undefined) assert.ok(Number.isFinite(got.createdAt) && got.createdAt > Date.UTC(2020, 0, 1));
    });

    it('a second write makes a new current version one above; each version stays readable by number', async () => {
      const n = fresh();
      await h.seed(n, 'first-value');
      const v1 = await b.get(n);
      await h.seed(n, 'second-value');
      const v2 = await b.get(n);
      assert.equal(v2.value.revealString(), 'second-value');
      assert.equal(v2.version, v1.version + 1);
      const again1 = await b.get(n, { version: v1.version });
      assert.equal(again1.value.revealString(), 'first-value');
      assert.equal(again1.version, v1.version);
      assert.equal((await b.get(n, { version: v2.version })).value.revealString(), 'second-value');
      if (h.versionIds) {
        assert.notEqual(v1.versionId, v2.versionId);
        assert.equal(again1.versionId, v1.versionId, 'the vendor id belongs to the version');
      }
    });

    it('unknown name, unknown version: not_found naming the secret; bad versions: invalid_argument', async () => {
      const n = fresh();
      await expectBrokerError(b.get(n), 'not_found', new RegExp(`secret "${n}".*not found`));
      await expectBrokerError(b.get(n, { version: 1 }), 'not_found');
      await h.seed(n, 'v');
      const cur = await b.get(n);
      await expectBrokerError(b.get(n, { version: cur.version + 1 }), 'not_found', new RegExp(`version ${cur.version + 1} of secret "${n}"`));
      await expectBrokerError(b.get(n, { version: 0 }), 'invalid_argument', /^version: /);
      await expectBrokerError(b.get(n, { version: 1.5 }), 'invalid_argument', /^version: /);
    });

    it('field: picks a key of a structured value; a missing key is not_found naming field and secret', async function () {
      const n = fresh();
      const plain = uniqueSecret();
      if (!h.fields) {
        await h.seed(n, plain);
        await expectBrokerError(b.get(n, { field: 'api_key' }), 'invalid_argument', /^field: /);
        return;
      }
      await h.seed(n, plain, { field: 'api_key' });
      const got = await b.get(n, { field: 'api_key' });
      assert.equal(got.value.revealString(), plain);
      const err = await expectBrokerError(b.get(n, { field: 'other' }), 'not_found', new RegExp(`field "other" of secret "${n}"`));
      assertErrorClean(err, plain, 'missing field');
    });

    it('a value never appears in an error, whatever fails', async () => {
      const n = fresh();
      const plain = uniqueSecret();
      await h.seed(n, plain);
      const cur = await b.get(n);
      const failures: Array<() => Promise<unknown>> = [
        () => b.get(n, { version: cur.version + 5 }),
        () => b.get(n, { field: 'nope' }), // invalid_argument (no fields) or failed_precondition (not structured)
        () => b.get(`${plain} pasted`), // a value pasted where a name belongs: not a valid name, and not echoed
      ];
      const w = b;
      if (canPut(w)) failures.push(() => w.put(`${plain} pasted`, SecretValue.fromString(plain)));
      for (const [i, run] of failures.entries()) {
        let caught: unknown;
        try {
          await run();
        } catch (err) {
          caught = err;
        }
        assert.ok(caught instanceof BrokerError, `failure ${i}: expected a BrokerError, got ${inspect(caught)}`);
        assertErrorClean(caught, plain, `failure ${i} (${caught.kind})`);
      }
    });

    it('a returned value prints as [REDACTED] everywhere', async () => {
      const n = fresh();
      const plain = uniqueSecret();
      await h.seed(n, plain);
      const got = await b.get(n);
      const printed = [String(got.value), `${got.value}`, JSON.stringify(got), inspect(got, { depth: 5 })].join('\n');
      assertNoLeak(printed, plain, 'printed result');
      assert.ok(printed.includes('[REDACTED]'));
    });

    it('concurrent gets of current and older versions each get the right value', async () => {
      const n = fresh();
      await h.seed(n, 'c-one');
      await h.seed(n, 'c-two');
      const cur = await b.get(n);
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? b.get(n) : b.get(n, { version: cur.version - 1 }))),
      );
      results.forEach((r, i) => {
        assert.equal(r.value.revealString(), i % 2 === 0 ? 'c-two' : 'c-one', `get ${i}`);
        assert.equal(r.version, i % 2 === 0 ? cur.version : cur.version - 1);
      });
    });

    it('put (where offered): a new name starts at 1, each put is current + 1, readable at once, and the caller keeps its value', async function () {
      if (!canPut(b)) return this.skip();
      const n = fresh();
      const v = SecretValue.fromString('put-one');
      const r1 = await b.put(n, v);
      assert.equal(r1.version, 1);
      assert.equal(v.revealString(), 'put-one', 'put must not wipe the caller\'s value');
      const r2 = await b.put(n, SecretValue.fromString('put-two'));
      assert.equal(r2.version, 2);
      const got = await b.get(n);
      assert.equal(got.value.revealString(), 'put-two');
      assert.equal(got.version, 2);
      if (h.versionIds) assert.equal(got.versionId, r2.versionId);
      assert.equal((await b.get(n, { version: 1 })).value.revealString(), 'put-one');
      // After an outside write, the backend's next put still goes one above.
      await h.seed(n, 'outside-three');
      assert.equal((await b.get(n)).version, 3);
      assert.equal((await b.put(n, SecretValue.fromString('put-four'))).version, 4);
      assert.equal((await b.get(n, { version: 3 })).value.revealString(), 'outside-three');
      await expectBrokerError(b.put(n, SecretValue.fromString('')), 'invalid_argument', /^value: /);
    });

    it('put (where offered): concurrent puts on one backend each get their own version', async function () {
      const w = b;
      if (!canPut(w)) return this.skip();
      const n = fresh();
      const values = Array.from({ length: 8 }, (_, i) => `conc-${i}`);
      const got = await Promise.all(values.map((v) => w.put(n, SecretValue.fromString(v))));
      assert.deepEqual(got.map((r) => r.version).sort((x, y) => x - y), [1, 2, 3, 4, 5, 6, 7, 8]);
      const seen: string[] = [];
      for (let v = 1; v <= 8; v++) seen.push((await b.get(n, { version: v })).value.revealString());
      assert.deepEqual(seen.sort(), [...values].sort());
    });

    it('list (where offered): every name, sorted, with its current version and never a value', async function () {
      if (!canList(b)) return this.skip();
      const [x, y] = [fresh(), fresh()].sort();
      const plain = uniqueSecret();
      await h.seed(y!, plain);
      await h.seed(x!, 'lx-1');
      await h.seed(y!, `${plain}-2`);
      const rows = await b.list();
      const names = rows.map((r) => r.name);
      assert.deepEqual(names, [...names].sort(), 'sorted by name');
      const mine = rows.filter((r) => r.name === x || r.name === y);
      assert.deepEqual(mine.map((r) => r.name), [x, y]);
      for (const r of mine) {
        const cur = await b.get(r.name);
        assert.equal(r.version, cur.version, `${r.name}: the current version`);
        if (h.versionIds) assert.equal(r.versionId, cur.versionId);
        assert.ok(!('value' in r));
      }
      assert.equal(mine[1]!.version, mine[0]!.version + 1, 'y was written twice, x once');
      assertNoLeak(JSON.stringify(rows), plain, 'list');
    });

    it('after close every call is unavailable; close is idempotent', async () => {
      const n = fresh();
      await h.seed(n, 'v');
      await b.get(n);
      await b.close();
      await b.close();
      await expectBrokerError(b.get(n), 'unavailable', /closed/);
      await expectBrokerError(b.health(), 'unavailable', /closed/);
      if (canPut(b)) await expectBrokerError(b.put(n, SecretValue.fromString('x')), 'unavailable', /closed/);
      if (canList(b)) await expectBrokerError(b.list(), 'unavailable', /closed/);
    });
  });
}
