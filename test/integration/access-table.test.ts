import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import { loadProto } from '../../src/transport/grpc/proto';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectRefused, isGateRefusal, isShutOut } from '../helpers/expect-denial';

/**
 * Invariant 5: every call is authorized, and each Operator RPC requires its
 * named role. The table below is written out by hand on purpose (it is NOT
 * read from src/transport/grpc/access.ts): changing who may call an RPC there
 * must fail this test until the change is made here too, deliberately. Every
 * RPC of every service is called over real mTLS by an agent and by an
 * operator holding each single role, and by one holding none.
 */
type Role = 'approver' | 'admin' | 'auditor' | 'rotator';
/** One caller kind, or several operator roles of which any one will do ('admin|approver'). */
type Who = 'agent' | Role | 'any' | `${Role}|${Role}` | `${Role}|${Role}|${Role}` | `${Role}|${Role}|${Role}|${Role}`;

const EXPECTED: Readonly<Record<'AgentBroker' | 'Operator' | 'Evidence', Readonly<Record<string, Who>>>> = {
  AgentBroker: {
    RequestLease: 'agent',
    Invoke: 'agent',
    RenewLease: 'agent',
    RevokeLease: 'agent',
    GetLease: 'agent',
    WatchApproval: 'agent',
  },
  Operator: {
    ListApprovals: 'approver',
    DecideApproval: 'approver',
    GetApproval: 'approver',
    SetTrust: 'admin',
    ReportSignal: 'admin',
    GetTrust: 'auditor',
    RevokeLeases: 'admin',
    ReloadPolicies: 'admin',
    BreakGlass: 'admin',
    ConfirmBreakGlass: 'admin|approver',
    RevokeBreakGlass: 'admin',
    ListBreakGlass: 'admin|approver|auditor',
    GetBreakGlass: 'admin|approver|auditor',
    ReviewBreakGlass: 'approver|auditor',
    RotateEvidenceKey: 'admin',
    ListLeases: 'auditor',
    Explain: 'auditor',
    Rotate: 'rotator',
    // Any one of the roles, not a role-less operator: each Operator RPC requires a named role (invariant 5).
    WhoAmI: 'approver|admin|auditor|rotator',
    ListDecisions: 'auditor',
  },
  Evidence: {
    GetCheckpoint: 'any',
    GetEntry: 'any',
    GetReceipt: 'any',
    GetConsistencyProof: 'any',
  },
};

/** The callers: an agent, an operator with exactly one role each, and an operator with no role. */
const CALLERS = ['agent', 'approver', 'admin', 'auditor', 'rotator', 'none'] as const;
type Caller = (typeof CALLERS)[number];

const allowed = (who: Who, caller: Caller): boolean => who === 'any' || who.split('|').includes(caller);

describe('the access table: every RPC against every role and an agent (invariant 5)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  const clients = new Map<Caller, BrokerClients>();

  before(async () => {
    tmp = tempDir();
    const operators = ['approver', 'admin', 'auditor', 'rotator', 'none'].map((r) => `op-${r}`);
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], operators);
    const raw = baseRawConfig(pki, tmp.dir, {
      agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'] } },
      operators: Object.fromEntries(operators.map((o) => [o, { id: `spiffe://example.org/human/${o}`, roles: o === 'op-none' ? [] : [o.slice(3)] }])),
      approvals: { finance: { approvers: ['op-approver'], required: 1, expires: '15m' } },
    });
    broker = await startBroker({ pki, dir: tmp.dir, raw });
    for (const c of CALLERS) clients.set(c, c === 'agent' ? broker.clientFor('agents', 'support-bot') : broker.clientFor('operators', `op-${c}`));
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('the table covers exactly the RPCs the proto defines', () => {
    const v1 = loadProto().api.secretbroker.v1;
    for (const svc of Object.keys(EXPECTED) as Array<keyof typeof EXPECTED>) {
      const defined = Object.keys(v1[svc].service as unknown as grpc.ServiceDefinition).sort();
      assert.deepEqual(Object.keys(EXPECTED[svc]).sort(), defined, `${svc}: the table must list every RPC`);
    }
  });

  /** Calls one RPC with an empty request; resolves to the status code it ended with (OK included). */
  const callRpc = async (c: BrokerClients, svc: keyof typeof EXPECTED, method: string): Promise<{ code: grpc.status; details: string }> => {
    const client = svc === 'AgentBroker' ? c.agent : svc === 'Operator' ? c.operator : c.evidence;
    const def = (loadProto().api.secretbroker.v1[svc].service as unknown as grpc.ServiceDefinition)[method]!;
    if (def.responseStream) {
      return new Promise((resolve) => {
        const stream = (client as unknown as Record<string, (req: unknown, opts: grpc.CallOptions) => grpc.ClientReadableStream<unknown>>)[method]!.call(client, {}, { deadline: Date.now() + 5000 });
        stream.on('data', () => stream.cancel());
        stream.on('error', (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
        stream.on('status', (s: grpc.StatusObject) => s.code === grpc.status.OK && resolve({ code: s.code, details: s.details }));
      });
    }
    try {
      await call(client, method, {});
      return { code: grpc.status.OK, details: '' };
    } catch (err) {
      const e = err as grpc.ServiceError;
      return { code: e.code, details: e.details };
    }
  };

  it('an operator with no role is refused WhoAmI, and the refusal names the roles that would do', async () => {
    const err = await expectRefused(call(clients.get('none')!.operator, 'WhoAmI', {}));
    assert.equal(err.details, 'this RPC requires the operator role "approver" or "admin" or "auditor" or "rotator"');
  });

  for (const svc of Object.keys(EXPECTED) as Array<keyof typeof EXPECTED>) {
    for (const [method, who] of Object.entries(EXPECTED[svc])) {
      it(`${svc}.${method}: ${who === 'any' ? 'any authenticated caller' : who === 'agent' ? 'agents only' : `operators with role ${who.split('|').join(' or ')} only`}`, async () => {
        const got: string[] = [];
        const want: string[] = [];
        for (const caller of CALLERS) {
          const { code, details } = await callRpc(clients.get(caller)!, svc, method);
          // An allowed caller gets past authorization: any answer but PERMISSION_DENIED or UNAUTHENTICATED
          // (UNIMPLEMENTED for RPCs a later issue builds, INVALID_ARGUMENT for the empty request, OK).
          // A refused one gets the gate's PERMISSION_DENIED, which names what the RPC needs.
          const refused = isGateRefusal(code, details);
          const past = !isShutOut(code);
          got.push(`${caller}: ${refused ? 'refused' : past ? 'allowed' : `${grpc.status[code]} ${details}`}`);
          want.push(`${caller}: ${allowed(who, caller) ? 'allowed' : 'refused'}`);
        }
        assert.deepEqual(got, want);
      });
    }
  }
});
