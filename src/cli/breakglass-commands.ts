import { call } from '../client/grpc-client';
import { DURATION_EXPECTED, parseDuration } from '../config/duration';
import type { BreakGlassOverride__Output } from '../gen/secretbroker/v1/BreakGlassOverride';
import type { BreakGlassResponse__Output } from '../gen/secretbroker/v1/BreakGlassResponse';
import type { ListBreakGlassResponse__Output } from '../gen/secretbroker/v1/ListBreakGlassResponse';
import { timeLeft } from './approvals-commands';
import { EXIT, UsageError, emit } from './cli-io';
import { uint, withClients } from './client-flags';
import { CLIENT_FLAGS, str, type Command } from './command';
import { quoted, shown } from './terminal-text';

const STATES = Object.freeze(['pending', 'active', 'revoked', 'expired', 'ended']);
const isOpen = (o: BreakGlassOverride__Output): boolean => o.state === 'pending' || o.state === 'active';
const scope = (o: BreakGlassOverride__Output): string => `${o.action} on ${o.resource ? shown(o.resource) : 'every resource'} for ${o.agent}`;

/** One line per override. */
export function formatOverrideLine(o: BreakGlassOverride__Output): string {
  const who = `asked by ${o.requestedBy}${o.confirmedBy ? `, confirmed by ${o.confirmedBy}` : ''}`;
  const left = isOpen(o) ? `, ${timeLeft(o.secondsLeft)} left` : '';
  const review = o.reviewedBy ? `reviewed by ${o.reviewedBy}` : 'not reviewed';
  return `${o.overrideId}  ${o.state}  ${scope(o)}  [${who}${left}; ${review}]\n  reason ${quoted(o.reason)}`;
}

/** Everything about one override, one fact a line. */
export function formatOverride(o: BreakGlassOverride__Output): string {
  return [
    `break-glass ${o.overrideId}`,
    `  state      ${o.state}${isOpen(o) ? ` (${timeLeft(o.secondsLeft)} left)` : ''}`,
    `  covers     ${scope(o)}${o.owner ? ` (owner ${o.owner}, who may not confirm it)` : ''}`,
    `  reason     ${quoted(o.reason)}`,
    `  asked      by ${o.requestedBy} at ${o.requestedAt}`,
    ...(o.confirmedBy ? [`  confirmed  by ${o.confirmedBy} at ${o.confirmedAt}`] : [`  confirmed  not yet: another admin or approver (neither ${o.requestedBy} nor the owner) must`]),
    `  ${o.state === 'pending' ? 'lapses   ' : 'until    '}  ${o.expiresAt} (ttl ${timeLeft(o.ttlSeconds)})`,
    ...(o.endedAt ? [`  ended      ${o.state} by ${o.endedBy} at ${o.endedAt}: ${quoted(o.endReason)}`] : []),
    o.reviewedBy ? `  reviewed   by ${o.reviewedBy} at ${o.reviewedAt}: ${quoted(o.reviewNote)}` : '  reviewed   not yet (approvals review mark ID --note ...)',
  ].join('\n');
}

const overrideOf = (r: BreakGlassResponse__Output): BreakGlassOverride__Output => {
  if (!r.override) throw new Error('the broker answered without the override');
  return r.override;
};

export const breakGlassCommand: Command = Object.freeze<Command>({
  path: ['break-glass'],
  summary: 'ask for a break-glass override: policy is bypassed for AGENT ACTION [RESOURCE] once a second operator confirms (role admin)',
  usage: 'break-glass AGENT ACTION [RESOURCE] --reason R [--ttl 15m]',
  options: { ...CLIENT_FLAGS, reason: { type: 'string' }, ttl: { type: 'string' } },
  positionals: [2, 3],
  async run(values, [agent, action, resource], io) {
    const reason = str(values, 'reason');
    if (!reason?.trim()) throw new UsageError('--reason is required: it goes in the evidence log');
    const ttl = str(values, 'ttl');
    const ttlMs = ttl === undefined ? 0 : parseDuration(ttl);
    if (ttlMs === undefined || ttlMs % 1000 !== 0) throw new UsageError(`--ttl: expected ${DURATION_EXPECTED}, in whole seconds, at most 24h`);
    const res = await withClients(values, io, (c) => call<unknown, BreakGlassResponse__Output>(c.operator, 'BreakGlass', { agent, action, resource: resource ?? '', reason, ttlSeconds: ttlMs / 1000 }));
    const o = overrideOf(res);
    const not = o.owner && o.owner !== o.requestedBy ? `neither ${o.requestedBy} nor ${o.owner}, the agent's owner` : `not ${o.requestedBy}`;
    emit(io, values.json === true, res, () => `break-glass ${o.overrideId} is pending: another admin or approver (${not}) must confirm it:\n  secret-broker break-glass confirm ${o.overrideId}\n${formatOverride(o)}`);
    return EXIT.ok;
  },
});

export const breakGlassConfirmCommand: Command = Object.freeze<Command>({
  path: ['break-glass', 'confirm'],
  summary: 'confirm a pending override (role admin or approver; never your own request nor your own agent\'s)',
  usage: 'break-glass confirm ID [--note N]',
  options: { ...CLIENT_FLAGS, note: { type: 'string' } },
  positionals: [1, 1],
  async run(values, [id], io) {
    const res = await withClients(values, io, (c) => call<unknown, BreakGlassResponse__Output>(c.operator, 'ConfirmBreakGlass', { overrideId: id, note: str(values, 'note') ?? '' }));
    const o = overrideOf(res);
    emit(io, values.json === true, res, () => `confirmed: policy is bypassed for ${scope(o)} until ${o.expiresAt}\n${formatOverride(o)}`);
    return EXIT.ok;
  },
});

export const breakGlassRevokeCommand: Command = Object.freeze<Command>({
  path: ['break-glass', 'revoke'],
  summary: 'end an override now and revoke the leases granted under it (role admin)',
  usage: 'break-glass revoke ID [--reason R]',
  options: { ...CLIENT_FLAGS, reason: { type: 'string' } },
  positionals: [1, 1],
  async run(values, [id], io) {
    const res = await withClients(values, io, (c) => call<unknown, BreakGlassResponse__Output>(c.operator, 'RevokeBreakGlass', { overrideId: id, reason: str(values, 'reason') ?? '' }));
    emit(io, values.json === true, res, () => `revoked\n${formatOverride(overrideOf(res))}`);
    return EXIT.ok;
  },
});

export const breakGlassListCommand: Command = Object.freeze<Command>({
  path: ['break-glass', 'list'],
  summary: 'break-glass overrides, newest first (role admin, approver or auditor)',
  usage: 'break-glass list [--state pending|active|revoked|expired|ended] [--agent A] [--unreviewed] [--limit N]',
  options: { ...CLIENT_FLAGS, state: { type: 'string' }, agent: { type: 'string' }, unreviewed: { type: 'boolean' }, limit: { type: 'string' } },
  positionals: [0, 0],
  async run(values, _pos, io) {
    const state = str(values, 'state') ?? '';
    if (state && !STATES.includes(state)) throw new UsageError(`--state: expected one of ${STATES.join(', ')}`);
    const res = await withClients(values, io, (c) =>
      call<unknown, ListBreakGlassResponse__Output>(c.operator, 'ListBreakGlass', { state, agent: str(values, 'agent') ?? '', unreviewed: values.unreviewed === true, limit: uint(values, 'limit') }),
    );
    emit(io, values.json === true, res, () => (res.overrides.length ? res.overrides.map(formatOverrideLine).join('\n') : 'no break-glass overrides'));
    return EXIT.ok;
  },
});

export const breakGlassShowCommand: Command = Object.freeze<Command>({
  path: ['break-glass', 'show'],
  summary: 'everything about one override (role admin, approver or auditor)',
  usage: 'break-glass show ID',
  options: CLIENT_FLAGS,
  positionals: [1, 1],
  async run(values, [id], io) {
    const res = await withClients(values, io, (c) => call<unknown, BreakGlassResponse__Output>(c.operator, 'GetBreakGlass', { overrideId: id }));
    emit(io, values.json === true, res, () => formatOverride(overrideOf(res)));
    return EXIT.ok;
  },
});

export const approvalsReviewCommand: Command = Object.freeze<Command>({
  path: ['approvals', 'review'],
  summary: 'break-glass overrides nobody has reviewed yet (role admin, approver or auditor)',
  usage: 'approvals review [--agent A] [--limit N]',
  options: { ...CLIENT_FLAGS, agent: { type: 'string' }, limit: { type: 'string' } },
  positionals: [0, 0],
  async run(values, _pos, io) {
    const res = await withClients(values, io, (c) => call<unknown, ListBreakGlassResponse__Output>(c.operator, 'ListBreakGlass', { unreviewed: true, agent: str(values, 'agent') ?? '', limit: uint(values, 'limit') }));
    emit(io, values.json === true, res, () =>
      res.overrides.length ? `${res.overrides.length} break-glass override(s) to review (approvals review mark ID --note ...):\n${res.overrides.map(formatOverrideLine).join('\n')}` : 'nothing to review: every break-glass override has been reviewed',
    );
    return EXIT.ok;
  },
});

export const approvalsReviewMarkCommand: Command = Object.freeze<Command>({
  path: ['approvals', 'review', 'mark'],
  summary: 'mark a break-glass override reviewed, with what you found (role approver or auditor; not its requester or confirmer)',
  usage: 'approvals review mark ID --note N',
  options: { ...CLIENT_FLAGS, note: { type: 'string' } },
  positionals: [1, 1],
  async run(values, [id], io) {
    const note = str(values, 'note');
    if (!note?.trim()) throw new UsageError('--note is required: it goes in the evidence log with your review');
    const res = await withClients(values, io, (c) => call<unknown, BreakGlassResponse__Output>(c.operator, 'ReviewBreakGlass', { overrideId: id, note }));
    emit(io, values.json === true, res, () => `reviewed\n${formatOverride(overrideOf(res))}`);
    return EXIT.ok;
  },
});

export const breakglassCommands: readonly Command[] = Object.freeze([
  breakGlassCommand,
  breakGlassConfirmCommand,
  breakGlassRevokeCommand,
  breakGlassListCommand,
  breakGlassShowCommand,
  approvalsReviewCommand,
  approvalsReviewMarkCommand,
]);
