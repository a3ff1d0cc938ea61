import type { Access } from './adapter';

/** Who may call each RPC. One table, so a missing role can never fall through to an allow. */
export const ACCESS: Readonly<Record<string, Readonly<Record<string, Access>>>> = Object.freeze({
  AgentBroker: {
    RequestLease: { who: 'agent' },
    Invoke: { who: 'agent' },
    RenewLease: { who: 'agent' },
    RevokeLease: { who: 'agent' },
    GetLease: { who: 'agent' },
    WatchApproval: { who: 'agent' },
  },
  Operator: {
    ListApprovals: { who: 'operator', role: 'approver' },
    DecideApproval: { who: 'operator', role: 'approver' },
    GetApproval: { who: 'operator', role: 'approver' },
    SetTrust: { who: 'operator', role: 'admin' },
    ReportSignal: { who: 'operator', role: 'admin' },
    GetTrust: { who: 'operator', role: 'auditor' },
    RevokeLeases: { who: 'operator', role: 'admin' },
    ReloadPolicies: { who: 'operator', role: 'admin' },
    BreakGlass: { who: 'operator', role: 'admin' },
    ConfirmBreakGlass: { who: 'operator', role: ['admin', 'approver'] },
    RevokeBreakGlass: { who: 'operator', role: 'admin' },
    ListBreakGlass: { who: 'operator', role: ['admin', 'approver', 'auditor'] },
    GetBreakGlass: { who: 'operator', role: ['admin', 'approver', 'auditor'] },
    ReviewBreakGlass: { who: 'operator', role: ['approver', 'auditor'] },
    RotateEvidenceKey: { who: 'operator', role: 'admin' },
    ListLeases: { who: 'operator', role: 'auditor' },
    Explain: { who: 'operator', role: 'auditor' },
    Rotate: { who: 'operator', role: 'rotator' },
    // Any one of the roles: a role-less operator is refused (invariant 5).
    WhoAmI: { who: 'operator', role: ['approver', 'admin', 'auditor', 'rotator'] },
    ListDecisions: { who: 'operator', role: 'auditor' },
  },
  Evidence: {
    GetCheckpoint: { who: 'any' },
    GetEntry: { who: 'any' },
    GetReceipt: { who: 'any' },
    GetConsistencyProof: { who: 'any' },
  },
});
