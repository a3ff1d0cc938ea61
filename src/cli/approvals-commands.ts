import { structToJson } from '../broker/struct';
import { call } from '../client/grpc-client';
import type { Approval__Output } from '../gen/secretbroker/v1/Approval';
import type { ListApprovalsResponse__Output } from '../gen/secretbroker/v1/ListApprovalsResponse';
import { EXIT, UsageError, emit } from './cli-io';
import { uint, withClients } from './client-flags';
import { CLIENT_FLAGS, str, type Command } from './command';
import { neutralise, quoted, shown } from './terminal-text';

const STATES: Readonly<Record<string, string>> = Object.freeze({
  pending: 'PENDING',
  approved: 'APPROVED',
  rejected: 'REJECTED',
  expired: 'APPROVAL_EXPIRED',
  consumed: 'APPROVAL_CONSUMED',
});

const STATE_WORD: Readonly<Record<string, string>> = Object.freeze(Object.fromEntries(Object.entries(STATES).map(([k, v]) => [v, k])));

/** "14m 59s", "2h 5m", "0s". */
export function timeLeft(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

const stateOf = (a: Approval__Output): string => STATE_WORD[a.state] ?? neutralise(String(a.state));
const progressOf = (a: Approval__Output): string => a.progress.map((p) => `${p.group} ${p.approvals}/${p.required}`).join(', ');
const paramsOf = (a: Approval__Output): string => neutralise(JSON.stringify(structToJson(a.params)));

/** One line per approval, then its purpose: everything the agent wrote is neutralised. */
export function formatApprovalLine(a: Approval__Output): string {
  const owner = a.owner ? ` (owner ${a.owner})` : '';
  const left = stateOf(a) === 'pending' || stateOf(a) === 'approved' ? `, ${timeLeft(a.secondsLeft)} left` : '';
  return [
    `${a.approvalId}  ${stateOf(a)}  ${a.action} on ${shown(a.resource)} for ${a.agent}${owner}  [${progressOf(a)}${left}]`,
    `  params ${paramsOf(a)}  purpose ${quoted(a.purpose)}`,
  ].join('\n');
}

/** Everything an approver needs to decide, one fact a line. */
export function formatApproval(a: Approval__Output): string {
  const state = stateOf(a);
  const lines = [
    `approval ${a.approvalId}`,
    `  state     ${state} (${progressOf(a)} approvals)`,
    `  agent     ${a.agent}${a.owner ? ` (owner ${a.owner}, who may not decide its requests)` : ''}`,
    ...(a.trust ? [`  trust     ${a.trust.score} (${a.trust.tier})${a.trustFresh ? ', fresh' : ', not fresh'}`] : []),
    `  action    ${a.action} on ${shown(a.resource)}`,
    `  params    ${paramsOf(a)}`,
    `  purpose   ${quoted(a.purpose)}`,
    `  asks for  ttl ${a.ttlSeconds ? `${a.ttlSeconds} s` : 'the action default'}, ${a.maxUses ? `${a.maxUses} uses` : 'the default uses'}`,
    ...(a.rule ? [`  rule      ${a.rule} (policy ${a.policyVersion})`] : []),
    `  asked     ${a.createdAt}`,
    `  expires   ${a.expiresAt}${state === 'pending' || state === 'approved' ? ` (${timeLeft(a.secondsLeft)} left)` : ''}`,
    ...a.votes.map((v) => `  vote      ${v.approver} ${v.approve ? 'approved' : 'denied'} at ${v.at}: ${quoted(v.reason)}`),
    ...(a.reason && state !== 'pending' ? [`  outcome   ${quoted(a.reason)}`] : []),
    ...(a.leaseId ? [`  lease     ${a.leaseId}`] : []),
    `  binding   sha256:${a.bindingHash}`,
  ];
  return lines.join('\n');
}

export const approvalsListCommand: Command = Object.freeze<Command>({
  path: ['approvals', 'list'],
  summary: 'approvals waiting in your groups (role approver)',
  usage: 'approvals list [--state pending|approved|rejected|expired|consumed|all] [--group G] [--agent A] [--limit N]',
  options: { ...CLIENT_FLAGS, state: { type: 'string' }, group: { type: 'string' }, agent: { type: 'string' }, limit: { type: 'string' } },
  positionals: [0, 0],
  async run(values, _pos, io) {
    const state = str(values, 'state') ?? 'pending';
    if (state !== 'all' && !STATES[state]) throw new UsageError(`--state: expected one of ${[...Object.keys(STATES), 'all'].join(', ')}`);
    const req = {
      ...(state === 'all' ? { includeDecided: true } : { state: STATES[state] }),
      group: str(values, 'group') ?? '',
      agent: str(values, 'agent') ?? '',
      limit: uint(values, 'limit'),
    };
    const res = await withClients(values, io, (c) => call<unknown, ListApprovalsResponse__Output>(c.operator, 'ListApprovals', req));
    emit(io, values.json === true, res, () => (res.approvals.length ? res.approvals.map(formatApprovalLine).join('\n') : `no ${state === 'all' ? '' : `${state} `}approvals in your groups`));
    return EXIT.ok;
  },
});

export const approvalsShowCommand: Command = Object.freeze<Command>({
  path: ['approvals', 'show'],
  summary: 'everything about one approval: the request, the agent and its owner, trust, votes (role approver)',
  usage: 'approvals show APPROVAL_ID',
  options: CLIENT_FLAGS,
  positionals: [1, 1],
  async run(values, [id], io) {
    const res = await withClients(values, io, (c) => call<unknown, Approval__Output>(c.operator, 'GetApproval', { approvalId: id }));
    emit(io, values.json === true, res, () => formatApproval(res));
    return EXIT.ok;
  },
});

function decideCommand(verb: 'approve' | 'deny'): Command {
  return {
    path: ['approvals', verb],
    summary: verb === 'approve' ? 'approve one request (never your own agent\'s; four eyes)' : 'deny one request: any one denial rejects it',
    usage: `approvals ${verb} APPROVAL_ID --reason R`,
    options: { ...CLIENT_FLAGS, reason: { type: 'string' } },
    positionals: [1, 1],
    async run(values, [id], io) {
      const reason = str(values, 'reason');
      if (!reason?.trim()) throw new UsageError('--reason is required: it goes in the evidence log with your vote');
      const res = await withClients(values, io, (c) => call<unknown, Approval__Output>(c.operator, 'DecideApproval', { approvalId: id, approve: verb === 'approve', reason }));
      emit(io, values.json === true, res, () => `${verb === 'approve' ? 'approved' : 'denied'}; the approval is now ${stateOf(res)}\n${formatApproval(res)}`);
      return EXIT.ok;
    },
  };
}

export const approvalsCommands: readonly Command[] = Object.freeze([approvalsListCommand, approvalsShowCommand, decideCommand('approve'), decideCommand('deny')]);
