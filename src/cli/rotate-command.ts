import { call } from '../client/grpc-client';
import type { RotateResponse__Output } from '../gen/secretbroker/v1/RotateResponse';
import type { RotationResult__Output } from '../gen/secretbroker/v1/RotationResult';
import { EXIT, type CliIo } from './cli-io';
import { rpcError, withClients } from './client-flags';
import { CLIENT_FLAGS, str, type Command } from './command';

// eslint-disable-next-line no-control-regex
const safe = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

/** One line per secret, as it goes. Never a value: the daemon's answer holds none. */
export function formatRotation(r: RotationResult__Output): string {
  const name = safe(r.secret);
  switch (r.outcome) {
    case 'rotated':
      return `rotated ${name}: version ${r.oldVersion || 'none'} -> ${r.newVersion} (fencing token ${r.fencingToken}${r.evidence ? `, evidence index ${r.evidence.index}` : ''})`;
    case 'would_rotate':
      return `would rotate ${name}: ${safe(r.detail)}`;
    case 'skipped':
      return `skipped ${name}: ${safe(r.detail)}`;
    default:
      return `failed ${name}: ${safe(r.detail)}`;
  }
}

function jsonOf(r: RotationResult__Output): Record<string, unknown> {
  return {
    secret: r.secret,
    backend: r.backend,
    outcome: r.outcome,
    detail: r.detail,
    ...(r.oldVersion ? { old_version: r.oldVersion } : {}),
    ...(r.newVersion ? { new_version: r.newVersion } : {}),
    ...(r.fencingToken !== '0' ? { fencing_token: Number(r.fencingToken) } : {}),
    ...(r.dueAt ? { due_at: r.dueAt } : {}),
    ...(r.lastRotatedAt ? { last_rotated_at: r.lastRotatedAt } : {}),
    ...(r.evidence ? { evidence_index: Number(r.evidence.index) } : {}),
  };
}

function print(io: CliIo, json: boolean, r: RotationResult__Output): void {
  io.stdout.write((json ? JSON.stringify(jsonOf(r)) : formatRotation(r)) + '\n');
}

/**
 * A thin client (role rotator) for cron: asks the daemon what is due (a dry
 * run), then one Rotate per due secret, printing a line each as it goes.
 * Exit 0 when every due secret rotated, nothing was due, or another run held a
 * lock (skipped); 1 when anything failed.
 */
export const rotateCommand: Command = Object.freeze<Command>({
  path: ['rotate'],
  summary: 'rotate the secrets that are due, through the daemon (role rotator); exit 1 if any failed',
  usage: 'rotate [--secret NAME] [--dry-run] [--force] [--json]',
  options: { ...CLIENT_FLAGS, secret: { type: 'string' }, 'dry-run': { type: 'boolean' }, force: { type: 'boolean' } },
  positionals: [0, 0],
  async run(values, _positionals, io) {
    const json = values.json === true;
    const force = values.force === true;
    const secret = str(values, 'secret') ?? '';
    return withClients(values, io, async (c) => {
      const plan = await call<unknown, RotateResponse__Output>(c.operator, 'Rotate', { secret, dryRun: true, force });
      let failed = false;
      for (const p of plan.results) {
        if (values['dry-run'] === true || p.outcome !== 'would_rotate') {
          print(io, json, p);
          failed ||= p.outcome === 'failed';
          continue;
        }
        let r: RotationResult__Output;
        try {
          const res = await call<unknown, RotateResponse__Output>(c.operator, 'Rotate', { secret: p.secret, dryRun: false, force });
          r = res.results[0] ?? { ...p, outcome: 'failed', detail: 'the daemon returned no result' };
        } catch (err) {
          r = { ...p, outcome: 'failed', detail: rpcError(err).message };
        }
        print(io, json, r);
        failed ||= r.outcome === 'failed';
      }
      if (!json && plan.results.length === 0) io.stdout.write('no secret has rotation configured\n');
      return failed ? EXIT.failure : EXIT.ok;
    });
  },
});
