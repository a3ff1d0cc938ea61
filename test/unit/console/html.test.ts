import { strict as assert } from 'node:assert';
import { layout, mayCall, usesCell } from '../../../src/console/html';
import { ACCESS } from '../../../src/transport/grpc/access';

describe('console/html: what the pages offer follows the daemon access table', () => {
  it('mayCall reads the roles of the RPC from ACCESS, and refuses to guess for an RPC it does not know', () => {
    const auditor = { name: 'carol', roles: ['auditor'] };
    assert.equal(mayCall(auditor, 'Operator', 'ListLeases'), true);
    assert.equal(mayCall(auditor, 'Operator', 'ListApprovals'), false);
    assert.equal(mayCall(auditor, 'Operator', 'RevokeLeases'), false);
    assert.equal(mayCall(auditor, 'Evidence', 'GetEntry'), true, "an 'any' RPC");
    assert.equal(mayCall({ name: 'dave', roles: ['approver'] }, 'Operator', 'ConfirmBreakGlass'), true, 'one of several roles');
    assert.equal(mayCall({ name: 'erin', roles: [] }, 'Operator', 'ListLeases'), false);
    assert.equal(mayCall(auditor, 'AgentBroker', 'RequestLease'), false, 'an agent RPC is not offered to an operator');
    assert.equal(mayCall(undefined, 'Operator', 'RevokeLeases'), true, 'unknown caller: offered, the daemon decides');
    assert.throws(() => mayCall(auditor, 'Operator', 'NoSuchRpc'), /no rule for Operator\.NoSuchRpc/);
  });

  it('the nav offers each page to exactly the roles of the RPC its listing calls', () => {
    const pages: Array<[string, string, string]> = [
      ['/approvals', 'Operator', 'ListApprovals'],
      ['/leases', 'Operator', 'ListLeases'],
      ['/trust', 'Operator', 'GetTrust'],
      ['/denials', 'Operator', 'ListDecisions'],
    ];
    for (const role of ['approver', 'admin', 'auditor', 'rotator']) {
      const html = layout('t', '', { who: { name: 'x', roles: [role] } });
      assert.match(html, /href="\/evidence"/, 'Evidence is for anyone');
      for (const [href, service, method] of pages) {
        const access = ACCESS[service]![method]!;
        const roles = access.who === 'operator' ? [access.role].flat() : [];
        assert.equal(html.includes(`href="${href}"`), roles.includes(role as never), `${href} for ${role}`);
      }
    }
  });

  it('the Leases page shows uses as left/max, and "not counted" for a database lease (not 1/1)', () => {
    assert.equal(usesCell({ usesLeft: 3, maxUses: 5, dynamicCredential: false }), '3/5');
    assert.equal(usesCell({ usesLeft: 3, maxUses: 5 }), '3/5');
    const db = usesCell({ usesLeft: 1, maxUses: 1, dynamicCredential: true });
    assert.match(db, />not counted</);
    assert.doesNotMatch(db, /1\/1/);
  });
});
