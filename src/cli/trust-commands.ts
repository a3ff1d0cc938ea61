import { call } from '../client/grpc-client';
import type { TrustState__Output } from '../gen/secretbroker/v1/TrustState';
import { EXIT, UsageError, emit } from './cli-io';
import { uint, withClients } from './client-flags';
import { CLIENT_FLAGS, str, type Command } from './command';
import { neutralise as safe } from './terminal-text';

export function formatTrust(t: TrustState__Output): string {
  const lines = [
    `agent ${safe(t.agent)}: trust ${t.score} (${t.tier})${t.fresh ? ', fresh' : ', not fresh'}`,
    `  updated ${t.updatedAt || 'never (initial score)'}; confirmed ${t.confirmedAt || 'never'}`,
  ];
  if (t.previousTier) lines.push(`  was ${t.previousScore} (${t.previousTier})`);
  if (t.evidence) lines.push(`  recorded as trust.changed, evidence index ${t.evidence.index}`);
  if (t.previousTier) lines.push(`  leases revoked: ${t.leasesRevoked}`);
  if (t.history.length) {
    lines.push('  history (newest first):');
    for (const h of t.history) {
      const what = h.kind === 'set' || h.kind === 'decay' ? h.kind : `${h.kind} ${h.weight > 0 ? '+' : ''}${h.weight}`;
      lines.push(`    ${h.at}  ${h.oldScore} (${h.oldTier}) -> ${h.newScore} (${h.newTier})  ${safe(what)} by ${safe(h.by)}: ${safe(h.note)}`);
    }
  }
  return lines.join('\n');
}

/** Notes in the history quote what agents sent (an out-of-template call): shown neutralised, in both forms. */
async function operatorCall(values: Parameters<Command['run']>[0], io: Parameters<Command['run']>[2], method: string, req: unknown): Promise<number> {
  const res = await withClients(values, io, (c) => call<unknown, TrustState__Output>(c.operator, method, req));
  emit(io, values.json === true, res, () => formatTrust(res));
  return EXIT.ok;
}

/** --weight N: a signed whole number (0 or absent: the kind's configured weight). */
function signedInt(v: string | undefined): number {
  if (v === undefined) return 0;
  if (!/^-?\d{1,4}$/.test(v)) throw new UsageError('--weight: expected a whole number such as -150 or 50');
  return Number(v);
}

export const trustSignalCommand: Command = Object.freeze<Command>({
  path: ['trust', 'signal'],
  summary: 'report a trust signal for an agent (role admin); a drop revokes leases policy no longer permits',
  usage: 'trust signal AGENT --kind KIND [--weight N] --detail TEXT',
  options: { ...CLIENT_FLAGS, kind: { type: 'string' }, weight: { type: 'string' }, detail: { type: 'string' } },
  positionals: [1, 1],
  async run(values, [agent], io) {
    const kind = str(values, 'kind');
    const detail = str(values, 'detail');
    if (!kind) throw new UsageError('--kind is required (a kind configured under trust.signals, such as eval.failed)');
    if (!detail) throw new UsageError('--detail is required (what was observed, one line)');
    return operatorCall(values, io, 'ReportSignal', { agent, kind, weight: signedInt(str(values, 'weight')), detail });
  },
});

export const trustSetCommand: Command = Object.freeze<Command>({
  path: ['trust', 'set'],
  summary: 'set an agent\'s trust score, 0..1000 (role admin)',
  usage: 'trust set AGENT SCORE --reason TEXT',
  options: { ...CLIENT_FLAGS, reason: { type: 'string' } },
  positionals: [2, 2],
  async run(values, [agent, score], io) {
    if (!/^\d{1,4}$/.test(score ?? '') || Number(score) > 1000) throw new UsageError('SCORE: expected a whole number from 0 to 1000');
    const reason = str(values, 'reason');
    if (!reason) throw new UsageError('--reason is required (why, one line)');
    return operatorCall(values, io, 'SetTrust', { agent, score: Number(score), reason });
  },
});

export const trustShowCommand: Command = Object.freeze<Command>({
  path: ['trust', 'show'],
  summary: 'show an agent\'s trust score, tier and freshness (role auditor)',
  usage: 'trust show AGENT [--history [--limit N]]',
  options: { ...CLIENT_FLAGS, history: { type: 'boolean' }, limit: { type: 'string' } },
  positionals: [1, 1],
  async run(values, [agent], io) {
    const history = values.history === true ? uint(values, 'limit') || 20 : 0;
    return operatorCall(values, io, 'GetTrust', { agent, history });
  },
});

export const trustCommands: readonly Command[] = Object.freeze([trustSignalCommand, trustSetCommand, trustShowCommand]);
