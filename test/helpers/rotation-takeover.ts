import type { RotationHooks } from '../../src/rotation/rotation-service';
import type { RotationLock, RotationStore } from '../../src/store/store';

/**
 * Runs `run` (a rotate command) while another rotator takes the secret's
 * lock at one point of the rotation: once the ALTER ROLE connection is open
 * (`afterAdminConnect`), or after step `step` (`afterStep`). The hook is
 * cleared and that lock released afterwards, whatever `run` did.
 */
export async function rotateWithLockTakenOver<R>(
  rotations: Pick<RotationStore, 'takeRotationLock' | 'releaseRotationLock'>,
  hooks: RotationHooks,
  at: 'afterAdminConnect' | { step: string },
  run: () => Promise<R>,
): Promise<{ result: R; taken: boolean }> {
  let taken: RotationLock | undefined;
  // The connect (or the step) took past the lock's expiry, and another rotation took the lock.
  const takeOver = async (secret: string): Promise<void> => {
    taken = await rotations.takeRotationLock(secret, 'another-rotator', Date.now() + 3_600_000, 1000);
  };
  if (at === 'afterAdminConnect') hooks.afterAdminConnect = takeOver;
  else hooks.afterStep = async (secret, step) => (step === at.step ? takeOver(secret) : undefined);
  try {
    return { result: await run(), taken: taken !== undefined };
  } finally {
    if (at === 'afterAdminConnect') hooks.afterAdminConnect = undefined;
    else hooks.afterStep = undefined;
    if (taken) await rotations.releaseRotationLock(taken);
  }
}
