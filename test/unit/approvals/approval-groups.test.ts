import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadPolicies } from '../../../src/app';
import { PolicyLoadError } from '../../../src/policy/policy-load-error';
import { tempDir } from '../../helpers/broker-harness';

/**
 * A policy's `@obligation("approval:<group>")` must name a configured group.
 * "toString" or "constructor" is not one, even though every object inherits
 * a member of that name: such a policy is refused at load, not left to fail
 * (or misbehave) when an agent first triggers it.
 */
describe('loadPolicies: approval obligations name configured groups (own keys only)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('sb-approval-groups-')));
  afterEach(() => tmp.cleanup());

  const policyAsking = (group: string): string => {
    writeFileSync(
      path.join(tmp.dir, 'refunds.cedar'),
      `@id("refund-approved")\n@obligation("approval:${group}")\npermit (principal in Group::"support", action == Action::"billing.refund", resource);\n`,
    );
    return tmp.dir;
  };
  const approvals = Object.freeze({ finance: Object.freeze({ name: 'finance', approvers: Object.freeze(['bob']), required: 1, expiresMs: 900_000 }) });

  it('loads a policy asking for a configured group', async () => {
    const engine = await loadPolicies({ policies: policyAsking('finance'), approvals });
    assert.ok(engine.version);
  });

  for (const group of ['toString', 'constructor', 'valueOf', 'missing']) {
    it(`refuses a policy asking for approval:${group}`, async () => {
      await assert.rejects(loadPolicies({ policies: policyAsking(group), approvals }), (err: unknown) => {
        assert.ok(err instanceof PolicyLoadError, String(err));
        assert.match(err.message, new RegExp(`asks for approval:${group}, but approvals\\.${group} is not configured`));
        return true;
      });
    });
  }

  it('refuses an obligation naming several groups that distinct approvers can never fill (one approver counts in one group)', async () => {
    const groups = (finance: string[], legal: string[]) =>
      Object.freeze({
        finance: Object.freeze({ name: 'finance', approvers: Object.freeze(finance), required: 1, expiresMs: 900_000 }),
        legal: Object.freeze({ name: 'legal', approvers: Object.freeze(legal), required: 1, expiresMs: 900_000 }),
      });
    const dir = policyAsking('finance, approval:legal');
    // bob is the only approver of both: one person can never be the two approvals the policy asks for.
    await assert.rejects(loadPolicies({ policies: dir, approvals: groups(['bob'], ['bob']) }), (err: unknown) => {
      assert.ok(err instanceof PolicyLoadError, String(err));
      assert.match(err.message, /policy "refund-approved":? asks for approval:finance, approval:legal, which needs 2 different approvers \(one approver counts in one group\): its groups' approvers cannot give that/);
      return true;
    });
    // alice for finance and bob for legal: reachable.
    assert.ok((await loadPolicies({ policies: dir, approvals: groups(['alice', 'bob'], ['bob']) })).version);
  });
});
