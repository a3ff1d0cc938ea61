import type { RotateRequest__Output } from '../../../gen/secretbroker/v1/RotateRequest';
import type { RotateResponse } from '../../../gen/secretbroker/v1/RotateResponse';
import type { RotationService } from '../../../rotation/rotation-service';
import type { CallContext } from '../adapter';
import type { Handlers } from '../server';

const iso = (ms: number | undefined): string => (ms === undefined ? '' : new Date(ms).toISOString());

/** Operator.Rotate (role rotator, enforced by the gate); translation only. */
export function rotationHandlers(rotation: Pick<RotationService, 'rotate'>): Handlers {
  return {
    Operator: {
      Rotate: async (req: RotateRequest__Output, ctx: CallContext): Promise<RotateResponse> => {
        const results = await rotation.rotate({ secret: req.secret, dryRun: req.dryRun, force: req.force, operator: ctx.principal.name });
        return {
          results: results.map((r) => ({
            secret: r.secret,
            backend: r.backend,
            outcome: r.outcome,
            detail: r.detail,
            newVersion: r.newVersion ?? 0,
            oldVersion: r.oldVersion ?? 0,
            fencingToken: String(r.token ?? 0),
            dueAt: iso(r.dueAt),
            lastRotatedAt: iso(r.lastRotatedAt),
            ...(r.evidence ? { evidence: { origin: r.evidence.origin, index: String(r.evidence.index), leafHash: r.evidence.leafHash } } : {}),
          })),
        };
      },
    },
  };
}
