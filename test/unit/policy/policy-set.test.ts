import { strict as assert } from 'node:assert';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { compilePolicySet, loadPolicySet, PolicyLoadError, policySetVersion } from '../../../src/policy';

const DEV_POLICIES = resolve(__dirname, '../../../deploy/dev/policies');
const FIXTURES = resolve(__dirname, '../../fixtures/policies');

const OK = '@id("p1") @reason("r") permit (principal, action == Action::"a", resource);\n';

describe('policy set loading', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-policy-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads the dev policies with ids, files, reasons and obligations', async () => {
    const set = await loadPolicySet(DEV_POLICIES);
    assert.match(set.version, /^[0-9a-f]{64}$/);
    assert.deepEqual(set.files, ['analytics.cedar', 'billing.cedar', 'tickets.cedar']);
    const byId = Object.fromEntries(set.policies.map((p) => [p.id, p]));
    assert.deepEqual(Object.keys(byId), [
      'analytics-query-analysts',
      'billing-refund-small',
      'billing-refund-approved',
      'billing-refund-quarantine',
      'tickets-update-support',
    ]);
    assert.deepEqual(byId['billing-refund-approved'].obligations, { approvals: ['finance'] });
    assert.deepEqual(byId['tickets-update-support'].obligations, { approvals: [], maxTtlSeconds: 900 });
    assert.deepEqual(byId['analytics-query-analysts'].obligations, { approvals: [], maxTtlSeconds: 300 });
    assert.equal(byId['billing-refund-quarantine'].effect, 'forbid');
    assert.equal(byId['billing-refund-small'].file, 'billing.cedar');
    assert.equal(byId['billing-refund-approved'].line, 13);
    for (const p of set.policies) {
      assert.ok(p.annotations.reason && p.annotations.requires, `${p.id} has @reason and @requires`);
      assert.equal(p.reason, p.annotations.reason);
      assert.equal(p.requires, p.annotations.requires);
    }
  });

  it('parses @max_uses and several approvals', () => {
    const set = compilePolicySet([
      { name: 'a.cedar', text: '@id("x") @obligation(" approval:security ,approval:legal") @max_uses("1") @max_ttl("60") permit (principal, action, resource);' },
    ]);
    assert.deepEqual(set.policies[0].obligations, { approvals: ['security', 'legal'], maxTtlSeconds: 60, maxUses: 1 });
  });

  it('returns a deeply frozen set', async () => {
    const set = await loadPolicySet(DEV_POLICIES);
    assert.ok(Object.isFrozen(set) && Object.isFrozen(set.policies) && Object.isFrozen(set.policies[0]));
    assert.ok(Object.isFrozen(set.policies[0].obligations.approvals));
    assert.throws(() => {
      (set.policies as unknown as unknown[]).push({});
    });
  });

  it('keeps source order within a file even past ten policies', () => {
    // policySetTextToParts sorts by "policyN" as strings; the loader must undo that.
    const text = Array.from({ length: 12 }, (_, i) => `@id("p${i}")\npermit (principal, action, resource);\n`).join('');
    const set = compilePolicySet([{ name: 'many.cedar', text }]);
    assert.deepEqual(set.policies.map((p) => p.id), Array.from({ length: 12 }, (_, i) => `p${i}`));
    assert.deepEqual(set.policies.map((p) => p.line), Array.from({ length: 12 }, (_, i) => 2 * i + 1));
  });

  it('version: same files give the same version, whatever order they come in', () => {
    const a = { name: 'a.cedar', text: OK };
    const b = { name: 'b.cedar', text: OK.replace('p1', 'p2') };
    assert.equal(compilePolicySet([a, b]).version, compilePolicySet([b, a]).version);
    assert.equal(compilePolicySet([a, b]).version, policySetVersion([a, b]));
  });

  it('version changes when a file changes, is renamed, or is added', async () => {
    writeFileSync(join(dir, 'a.cedar'), OK);
    const v1 = (await loadPolicySet(dir)).version;
    assert.equal((await loadPolicySet(dir)).version, v1);

    writeFileSync(join(dir, 'a.cedar'), OK + '// a comment changes the version too\n');
    const v2 = (await loadPolicySet(dir)).version;
    assert.notEqual(v2, v1);

    rmSync(join(dir, 'a.cedar'));
    writeFileSync(join(dir, 'b.cedar'), OK);
    const v3 = (await loadPolicySet(dir)).version;
    assert.notEqual(v3, v1);
    assert.notEqual(v3, v2);

    writeFileSync(join(dir, 'c.cedar'), '// empty\n');
    assert.notEqual((await loadPolicySet(dir)).version, v3);
  });

  it('reads only *.cedar files, skipping dotfiles and directories, and follows symlinks', async () => {
    writeFileSync(join(dir, 'a.cedar'), OK);
    writeFileSync(join(dir, 'notes.txt'), 'not a policy');
    writeFileSync(join(dir, '.#a.cedar'), 'garbage from an editor');
    mkdirSync(join(dir, 'sub.cedar'));
    // Kubernetes mounts a ConfigMap as symlinks into ..data/.
    mkdirSync(join(dir, '..data'));
    writeFileSync(join(dir, '..data', 'z.cedar'), OK.replace('p1', 'p9'));
    symlinkSync(join(dir, '..data', 'z.cedar'), join(dir, 'z.cedar'));
    const set = await loadPolicySet(dir);
    assert.deepEqual(set.files, ['a.cedar', 'z.cedar']);
    assert.deepEqual(set.policies.map((p) => p.id), ['p1', 'p9']);
  });

  it('rejects a missing directory, an empty one, and a file that is not UTF-8', async () => {
    await assert.rejects(loadPolicySet(join(dir, 'nope')), (e: unknown) => e instanceof PolicyLoadError && /cannot read policy directory \(ENOENT\)/.test(e.message));
    await assert.rejects(loadPolicySet(dir), (e: unknown) => e instanceof PolicyLoadError && /no \*\.cedar files/.test(e.message));
    writeFileSync(join(dir, 'bad.cedar'), Buffer.from([0x40, 0xff, 0xfe]));
    writeFileSync(join(dir, 'good.cedar'), OK);
    await assert.rejects(loadPolicySet(dir), (e: unknown) => e instanceof PolicyLoadError && e.problems.length === 1 && e.problems[0].file === 'bad.cedar');
  });

  it('is a failed_precondition BrokerError whose message lists every problem', () => {
    try {
      compilePolicySet([{ name: 'x.cedar', text: 'permit (principal, action, resource);\npermit (principal, action, resource);' }], { source: 'policies/' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof PolicyLoadError);
      assert.equal(err.kind, 'failed_precondition');
      assert.match(err.message, /^policy set policies\/ has 2 problems:\n {2}x\.cedar:1: missing @id/);
      assert.match(err.message, /x\.cedar:2: missing @id/);
    }
  });

  describe('load errors (test/fixtures/policies/load-errors.yaml)', () => {
    interface Expected {
      file: string;
      line?: number;
      policy?: string;
      message: string;
    }
    const data = parse(readFileSync(join(FIXTURES, 'load-errors.yaml'), 'utf8')) as {
      cases: { name: string; files: Record<string, string>; count: number; problems: Expected[] }[];
    };
    for (const c of data.cases) {
      it(c.name, () => {
        const files = Object.entries(c.files).map(([name, text]) => ({ name, text }));
        let error: unknown;
        try {
          compilePolicySet(files);
        } catch (err) {
          error = err;
        }
        assert.ok(error instanceof PolicyLoadError, `expected PolicyLoadError, got ${String(error)}`);
        const got = error.problems;
        const show = JSON.stringify(got, null, 1);
        for (const want of c.problems) {
          const found = got.some(
            (p) =>
              p.file === want.file &&
              (want.line === undefined || p.line === want.line) &&
              (want.policy === undefined || p.policy === want.policy) &&
              p.message.includes(want.message),
          );
          assert.ok(found, `no problem matching ${JSON.stringify(want)} in ${show}`);
        }
        assert.equal(got.length, c.count, show);
      });
    }
  });
});
