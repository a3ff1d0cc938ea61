import type { Ledger } from '../../../evidence/ledger/ledger';
import type { RotateEvidenceKeyRequest__Output } from '../../../gen/secretbroker/v1/RotateEvidenceKeyRequest';
import type { RotateEvidenceKeyResponse } from '../../../gen/secretbroker/v1/RotateEvidenceKeyResponse';
import type { CallContext } from '../adapter';
import type { Handlers } from '../server';

/** Operator.RotateEvidenceKey (role admin, enforced by the gate); translation only. */
export function evidenceKeyHandlers(ledger: Pick<Ledger, 'rotateKey'>): Handlers {
  return {
    Operator: {
      RotateEvidenceKey: async (req: RotateEvidenceKeyRequest__Output, ctx: CallContext): Promise<RotateEvidenceKeyResponse> => {
        const r = await ledger.rotateKey({ reason: req.reason, operator: ctx.principal.name });
        ctx.log.info({ key_id: r.keyId, evidence_index: r.ref.index }, 'evidence signing key rotated by an operator');
        return {
          verifierKey: r.verifierKey,
          evidence: { origin: r.ref.origin, index: String(r.ref.index), leafHash: r.ref.leafHash },
          previousVerifierKey: r.previousVerifierKey,
          overlapUntil: new Date(r.overlapUntil).toISOString(),
        };
      },
    },
  };
}
