import { jsonToStruct } from '../broker/struct';
import { call } from '../client/grpc-client';
import type { Explanation__Output } from '../gen/secretbroker/v1/Explanation';
import type { Lease__Output } from '../gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../gen/secretbroker/v1/LeaseResponse';
import { DeniedError, EXIT, UsageError, emit } from './cli-io';
import { parseParams, uint, withClients } from './client-flags';
import { CLIENT_FLAGS, list, str, type Command } from './command';

export function formatExplanation(e: Explanation__Output | null): string {
  if (!e) return '';
  const lines = [`decision: ${e.decision}${e.summary ? ` (${e.summary})` : ''}`];
  // A quarantined agent is told the hint only.
  if (e.hintOnly) return [...lines, `next: ${e.hint}`].join('\n');
  for (const d of e.decidingPolicies) lines.push(`  decided by ${d.id}: ${d.reason}`);
  for (const c of e.candidates) {
    lines.push(`  candidate ${c.id}: requires ${c.requires}`);
    for (const f of c.failedConditions) lines.push(`    failed: ${f}`);
    if (c.obligations.length) lines.push(`    obligations: ${c.obligations.join(', ')}`);
  }
  if (e.budget) {
    const b = e.budget;
    lines.push(`  budget ${b.field}: used ${b.used}${b.hasLimit ? ` of ${b.limit}` : ''} per ${b.per}, this request ${b.requested}`);
  }
  if (e.approval) {
    const a = e.approval;
    const missing = a.missing.map((m) => `${m.votes} from ${m.group}`).join(', ');
    lines.push(`  approval by ${a.groups.join(', ')} (${a.rule})${missing ? `: votes missing ${missing}` : ''}${a.approvalId ? `, approval ${a.approvalId}` : ''}`);
  }
  if (e.trust) lines.push(`  trust: ${e.trust.score} (${e.trust.tier})`);
  if (e.hint) lines.push(`next: ${e.hint}`);
  return lines.join('\n');
}

/** The `secretbroker-explanation` trailer's JSON (snake_case) in the shape `formatExplanation` prints. */
export function explanationFromTrailer(j: unknown): Explanation__Output | null {
  if (j === null || typeof j !== 'object') return null;
  const r = j as Record<string, unknown>;
  const arr = <T>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
  const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
  const b = r['budget'] as Record<string, unknown> | undefined;
  const a = r['approval'] as Record<string, unknown> | undefined;
  const o = r['override'] as Record<string, unknown> | undefined;
  const trust = r['trust'] as { score?: number; tier?: string } | undefined;
  return {
    decision: str(r['decision']),
    summary: str(r['summary']),
    decidingPolicies: arr<{ id: string; reason: string }>(r['deciding_policies']).map((d) => ({ id: str(d.id), reason: str(d.reason) })),
    candidates: arr<Record<string, unknown>>(r['candidates']).map((c) => ({
      id: str(c['id']),
      requires: str(c['requires']),
      failedConditions: arr<string>(c['failed_conditions']).map(str),
      obligations: arr<string>(c['obligations']).map(str),
    })),
    hint: str(r['hint']),
    trust: trust ? { score: Number(trust.score ?? 0), tier: str(trust.tier) } : null,
    policyVersion: '',
    override: o ? { overrideId: str(o['id']), requestedBy: str(o['requested_by']), confirmedBy: str(o['confirmed_by']), until: str(o['until']), reason: str(o['reason']) } : null,
    budget: b ? { field: str(b['field']), used: str(b['used']), limit: str(b['limit'] ?? 0), hasLimit: b['limit'] !== undefined, per: str(b['per']), requested: str(b['requested']) } : null,
    approval: a
      ? {
          groups: arr<string>(a['groups']).map(str),
          rule: str(a['rule']),
          missing: arr<{ group: string; votes: number }>(a['missing']).map((m) => ({ group: str(m.group), votes: Number(m.votes) })),
          approvalId: str(a['approval_id']),
        }
      : null,
    hintOnly: r['hint_only'] === true,
  };
}

export function formatLease(l: Lease__Output): string {
  return [
    `lease ${l.leaseId}`,
    `  ${l.action} on ${l.resource} for ${l.agent}`,
    // A lease with a dynamic credential is never spent (no Invoke): a use count would mean nothing.
    `  status ${l.status}, ${l.dynamicCredential ? 'uses not counted (a database credential: it ends by revocation or expiry)' : `${l.usesLeft}/${l.maxUses} uses left`}`,
    `  expires ${l.expiresAt} (renewable until ${l.maxExpiresAt})`,
    ...(l.revokeReason ? [`  revoked: ${l.revokeReason}`] : []),
    // Only a RequestLease response carries it, to its own agent, once (as `vault read database/creds/…` prints it).
    ...(l.databaseCredential
      ? [
          `  database login (shown once, valid while the lease is): ${l.databaseCredential.user}@${l.databaseCredential.host}:${l.databaseCredential.port}/${l.databaseCredential.database}`,
          `  password ${l.databaseCredential.password}`,
        ]
      : []),
  ].join('\n');
}

export const leaseRequestCommand: Command = Object.freeze<Command>({
  path: ['lease', 'request'],
  summary: 'ask for a lease on one action',
  usage: 'lease request ACTION [RESOURCE] [--param k=v]... [--params-json JSON] [--ttl S] [--max-uses N] [--purpose P]',
  options: {
    ...CLIENT_FLAGS,
    param: { type: 'string', multiple: true },
    'params-json': { type: 'string' },
    ttl: { type: 'string' },
    'max-uses': { type: 'string' },
    purpose: { type: 'string' },
  },
  // RESOURCE is optional: the broker renders it from the params; a stated one must match.
  positionals: [1, 2],
  async run(values, [action, resource = ''], io) {
    const params = parseParams(list(values, 'param'), str(values, 'params-json'));
    return withClients(values, io, async (c) => {
      const res = await call<unknown, LeaseResponse__Output>(c.agent, 'RequestLease', {
        action,
        resource,
        params: jsonToStruct(params),
        ttlSeconds: uint(values, 'ttl'),
        maxUses: uint(values, 'max-uses'),
        purpose: str(values, 'purpose') ?? '',
      });
      if (res.status !== 'GRANTED') {
        emit(io, values.json === true, res, () => `${res.status}\n${formatExplanation(res.explanation)}`);
        throw new DeniedError(`${res.status}: ${res.explanation?.summary || 'denied'}`);
      }
      const o = res.explanation?.override;
      // A grant under break-glass says so, and whose it is, in the first line.
      const under = o ? ` under break-glass override ${o.overrideId} (asked by ${o.requestedBy}, confirmed by ${o.confirmedBy}, until ${o.until})` : '';
      emit(io, values.json === true, res, () => `GRANTED${under}\n${formatLease(res.lease!)}`);
      return EXIT.ok;
    });
  },
});

function idCommand(verb: 'show' | 'renew' | 'revoke'): Command {
  const method = { show: 'GetLease', renew: 'RenewLease', revoke: 'RevokeLease' }[verb];
  return {
    path: ['lease', verb],
    summary: { show: 'show one of your leases', renew: 'extend a lease (never past its max TTL)', revoke: 'end a lease now' }[verb],
    usage: `lease ${verb} LEASE_ID${verb === 'renew' ? ' [--ttl S]' : verb === 'revoke' ? ' [--reason R]' : ''}`,
    options: { ...CLIENT_FLAGS, ...(verb === 'renew' ? { ttl: { type: 'string' as const } } : {}), ...(verb === 'revoke' ? { reason: { type: 'string' as const } } : {}) },
    positionals: [1, 1],
    async run(values, [id], io) {
      if (!id) throw new UsageError('a lease id is required');
      const req = verb === 'renew' ? { leaseId: id, ttlSeconds: uint(values, 'ttl') } : verb === 'revoke' ? { leaseId: id, reason: str(values, 'reason') ?? '' } : { leaseId: id };
      return withClients(values, io, async (c) => {
        const res = await call<unknown, Lease__Output | LeaseResponse__Output | { lease: Lease__Output }>(c.agent, method, req);
        const lease = 'leaseId' in res ? res : (res.lease as Lease__Output);
        emit(io, values.json === true, res, () => formatLease(lease));
        return EXIT.ok;
      });
    },
  };
}

export const leaseCommands: readonly Command[] = Object.freeze([leaseRequestCommand, idCommand('show'), idCommand('renew'), idCommand('revoke')]);
