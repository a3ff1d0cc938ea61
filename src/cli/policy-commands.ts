import { jsonToStruct } from '../broker/struct';
import { call } from '../client/grpc-client';
import type { ExplainResponse__Output } from '../gen/secretbroker/v1/ExplainResponse';
import type { ReloadPoliciesResponse__Output } from '../gen/secretbroker/v1/ReloadPoliciesResponse';
import type { App } from '../app';
import { EXIT, emit, type CliIo } from './cli-io';
import { clientFromFlags, parseParams, rpcError } from './client-flags';
import { CLIENT_FLAGS, list, str, type Command, type Values } from './command';
import { formatExplanation } from './lease-commands';

async function withOperator<T>(values: Values, io: CliIo, fn: (c: ReturnType<typeof clientFromFlags>) => Promise<T>): Promise<T> {
  const c = clientFromFlags(values, io);
  try {
    return await fn(c);
  } catch (err) {
    throw rpcError(err);
  } finally {
    c.close();
  }
}

export const policyExplainCommand: Command = Object.freeze<Command>({
  path: ['policy', 'explain'],
  summary: "dry run: what RequestLease would decide for AGENT now (current policy, trust, budgets); grants, reserves and records nothing (role auditor); exit 3 when it would be denied",
  usage: 'policy explain AGENT ACTION [RESOURCE] [--param k=v]... [--params-json JSON]',
  options: { ...CLIENT_FLAGS, param: { type: 'string', multiple: true }, 'params-json': { type: 'string' } },
  positionals: [2, 3],
  async run(values, [agent, action, resource], io) {
    const params = parseParams(list(values, 'param'), str(values, 'params-json'));
    const res = await withOperator(values, io, (c) =>
      call<unknown, ExplainResponse__Output>(c.operator, 'Explain', { agent, action, resource: resource ?? '', params: jsonToStruct(params) }),
    );
    emit(io, values.json === true, { status: res.status, explanation: res.explanation }, () => `${res.status}: ${agent} ${action}${resource ? ` on ${resource}` : ''}\n${formatExplanation(res.explanation)}`);
    return res.status === 'DENIED' ? EXIT.denied : EXIT.ok;
  },
});

export const policyReloadCommand: Command = Object.freeze<Command>({
  path: ['policy', 'reload'],
  summary: "reload the daemon's policy files: all checked before the swap (the old set keeps serving on any problem); active leases re-evaluated (role admin; SIGHUP does the same)",
  usage: 'policy reload',
  options: CLIENT_FLAGS,
  positionals: [0, 0],
  async run(values, _pos, io) {
    const res = await withOperator(values, io, (c) => call<unknown, ReloadPoliciesResponse__Output>(c.operator, 'ReloadPolicies', {}));
    emit(io, values.json === true, res, () =>
      res.changed
        ? [
            `policy set ${res.policyVersion.slice(0, 12)} loaded (${res.policies} policies; was ${res.previousVersion.slice(0, 12)})${res.evidence ? `, policy.loaded at index ${res.evidence.index}` : ''}`,
            `  ${res.reevaluated} active leases re-evaluated, ${res.revoked.length} revoked`,
            ...res.revoked.map((l) => `  revoked ${l.leaseId} (${l.agent} ${l.action} on ${l.resource})`),
          ].join('\n')
        : `policy set ${res.policyVersion.slice(0, 12)} unchanged (${res.policies} policies); nothing recorded`,
    );
    return EXIT.ok;
  },
});

/** serve and dev: SIGHUP reloads the policy files as ReloadPolicies does. Returns the remover. */
export function reloadOnSighup(app: Pick<App, 'policies' | 'log'>, io: CliIo): () => void {
  const onHup = (): void => {
    app.policies.reload('signal:SIGHUP').then(
      (r) => io.stderr.write(r.changed ? `SIGHUP: policy set ${r.version.slice(0, 12)} loaded; ${r.revoked.length} of ${r.reevaluated} active leases revoked\n` : `SIGHUP: policy set unchanged\n`),
      (err: unknown) => io.stderr.write(`SIGHUP: policy reload refused, the old set keeps serving: ${(err as Error).message}\n`),
    );
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}

export const policyCommands: readonly Command[] = Object.freeze([policyExplainCommand, policyReloadCommand]);
