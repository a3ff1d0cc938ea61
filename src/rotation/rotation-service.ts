/**
 * Rotation through the daemon (`Operator.Rotate`, role rotator). The daemon is
 * the only writer: the CLI asks which secrets are due (dry run) and then asks
 * for one secret at a time. Per secret:
 *
 * 1. take the rotation lock in the state store (held for `rotation.lock_ttl`;
 *    each take adds one to its fencing token); a held lock skips the secret;
 * 2. re-check that the secret is due (another run may just have rotated it),
 *    unless forced;
 * 3. read the current version from the store itself (not the cache);
 * 4. generate the new value and write it fenced: the local store re-checks,
 *    inside its own file lock, that our token is still the lock's current one;
 *    Vault writes with check-and-set on the version read in step 3. A rotator
 *    paused past its lock's expiry (another run took the lock) has its late
 *    write rejected;
 * 5. drop the registry's cache of the secret, so the next brokered call
 *    injects the new version;
 * 6. record one `rotation` entry (name, old and new version, token, steps,
 *    outcome; never a value) in the same commit as the outcome in the store
 *    (last success, outcome counts) and the lock's release.
 */
import type { BackendRegistry } from '../backends/registry';
import type { BrokerConfig, SecretConfig } from '../config/config-types';
import { DEFAULT_ROTATION_LOCK_TTL_MS } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Clock } from '../lib/clock';
import { BrokerError, invalidArgument, unimplemented } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { SecretValue } from '../lib/secret-value';
import type { RotationLock, RotationRecord, RotationStore } from '../store/store';
import { generateValue } from './generator';
import { randomBytes } from 'node:crypto';

export type RotationOutcome = 'rotated' | 'skipped' | 'failed' | 'would_rotate';

export interface RotationReport {
  secret: string;
  backend: string;
  outcome: RotationOutcome;
  detail: string;
  oldVersion?: number;
  newVersion?: number;
  token?: number;
  dueAt?: number;
  lastRotatedAt?: number;
  evidence?: EvidenceRef;
}

export interface RotateRequest {
  /** Empty: every secret with `rotation`. */
  secret: string;
  dryRun: boolean;
  force: boolean;
  /** The operator who asked (recorded). */
  operator: string;
}

export interface RotationHooks {
  /** Tests only: runs after the current version was read under the lock, before the fenced write. */
  beforeWrite?: (secret: string, lock: RotationLock) => Promise<void>;
}

export interface RotationServiceDeps {
  config: Pick<BrokerConfig, 'secrets' | 'rotation'>;
  rotations: RotationStore | undefined;
  backends: Pick<BackendRegistry, 'call' | 'invalidate'>;
  clock: Clock;
  log: Logger;
  evidence?: EvidenceSink;
  hooks?: RotationHooks;
}

const iso = (ms: number | undefined): string => (ms === undefined ? 'never' : new Date(ms).toISOString());

export class RotationService {
  constructor(private readonly deps: RotationServiceDeps) {}

  /** Rotates (or, dry, reports) the named secret or every secret with rotation, one after another. */
  async rotate(req: RotateRequest): Promise<RotationReport[]> {
    const rotations = this.deps.rotations;
    if (!rotations) throw unimplemented('rotation on this state store', 'a later issue');
    const targets = this.#targets(req.secret);
    const out: RotationReport[] = [];
    for (const s of targets) out.push(req.dryRun ? await this.#plan(rotations, s, req.force) : await this.#rotateOne(rotations, s, req));
    return out;
  }

  #targets(name: string): SecretConfig[] {
    const all = Object.values(this.deps.config.secrets).filter((s) => s.rotation);
    if (!name) return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const s = Object.hasOwn(this.deps.config.secrets, name) ? this.deps.config.secrets[name] : undefined;
    if (!s) throw invalidArgument('secret', `a configured secret name, got ${JSON.stringify(name.slice(0, 128))}`);
    if (!s.rotation) throw invalidArgument('secret', `a secret with rotation configured; ${name} has none`);
    return [s];
  }

  #due(s: SecretConfig, rec: RotationRecord | undefined): number | undefined {
    return rec?.lastRotatedAt === undefined ? undefined : rec.lastRotatedAt + s.rotation!.everyMs;
  }

  async #plan(rotations: RotationStore, s: SecretConfig, force: boolean): Promise<RotationReport> {
    const rec = await rotations.getRotation(s.name);
    const now = this.deps.clock.now();
    const dueAt = this.#due(s, rec);
    const base = { secret: s.name, backend: s.backend, ...(dueAt !== undefined ? { dueAt } : {}), ...(rec?.lastRotatedAt !== undefined ? { lastRotatedAt: rec.lastRotatedAt } : {}) };
    if (rec?.lockedUntil !== undefined && rec.lockedUntil > now) return { ...base, outcome: 'skipped', detail: `another rotation holds the lock until ${iso(rec.lockedUntil)}` };
    if (dueAt === undefined) return { ...base, outcome: 'would_rotate', detail: 'due: never rotated' };
    if (dueAt <= now) return { ...base, outcome: 'would_rotate', detail: `due since ${iso(dueAt)}` };
    if (force) return { ...base, outcome: 'would_rotate', detail: `forced (not due until ${iso(dueAt)})` };
    return { ...base, outcome: 'skipped', detail: `not due until ${iso(dueAt)}` };
  }

  async #rotateOne(rotations: RotationStore, s: SecretConfig, req: RotateRequest): Promise<RotationReport> {
    const { clock, log } = this.deps;
    const ttl = this.deps.config.rotation?.lockTtlMs ?? DEFAULT_ROTATION_LOCK_TTL_MS;
    const holder = randomBytes(8).toString('hex');
    const lock = await rotations.takeRotationLock(s.name, holder, clock.now(), ttl);
    if (!lock) {
      const rec = await rotations.getRotation(s.name);
      return { secret: s.name, backend: s.backend, outcome: 'skipped', detail: `another rotation holds the lock until ${iso(rec?.lockedUntil)}` };
    }
    const rec = await rotations.getRotation(s.name);
    const dueAt = this.#due(s, rec);
    const base = { secret: s.name, backend: s.backend, token: lock.token, ...(dueAt !== undefined ? { dueAt } : {}), ...(rec?.lastRotatedAt !== undefined ? { lastRotatedAt: rec.lastRotatedAt } : {}) };
    if (!req.force && dueAt !== undefined && dueAt > clock.now()) {
      await rotations.releaseRotationLock(lock);
      return { ...base, outcome: 'skipped', detail: `not due until ${iso(dueAt)} (last rotated ${iso(rec?.lastRotatedAt)})` };
    }
    const steps: string[] = ['locked'];
    let oldVersion: number | undefined;
    let newVersion: number | undefined;
    let fenced = false;
    let failure: BrokerError | undefined;
    let value: SecretValue | undefined;
    try {
      const current = await this.deps.backends.call(s.backend, `reading secret ${s.name} to rotate it`, async (b) => {
        if (!b.static) throw new BrokerError('failed_precondition', `backend ${s.backend} holds no static secrets`);
        try {
          const v = await b.static.get(s.ref);
          v.value.wipe();
          return v.version;
        } catch (err) {
          // A secret the store does not have yet is created by its first rotation.
          if (err instanceof BrokerError && err.kind === 'not_found') return 0;
          throw err;
        }
      });
      oldVersion = current || undefined;
      steps.push('read');
      await this.deps.hooks?.beforeWrite?.(s.name, lock);
      value = generateValue(s.rotation!.generator);
      steps.push('generated');
      const fence = async (): Promise<void> => {
        if (!(await rotations.rotationFenceHolds(s.name, lock.token, clock.now()))) {
          fenced = true;
          throw new BrokerError('failed_precondition', `fencing token ${lock.token} is no longer current`);
        }
      };
      const v = value;
      const written = await this.deps.backends.call(s.backend, `writing secret ${s.name} (rotation)`, async (b) => {
        if (!b.static?.put) throw new BrokerError('failed_precondition', `backend ${s.backend} cannot write secrets`);
        return b.static.put(s.ref, v, { cas: current, fence });
      });
      newVersion = written.version;
      steps.push('written');
    } catch (err) {
      failure = fenced
        ? new BrokerError('failed_precondition', `the write was rejected by the fence: token ${lock.token} is no longer current (the lock expired or another rotation took it); nothing was written`)
        : err instanceof BrokerError
          ? err
          : new BrokerError('internal', 'rotation failed', { cause: err });
      log.warn({ err, secret: s.name, backend: s.backend, token: lock.token, steps }, 'rotation failed');
    } finally {
      value?.wipe();
    }
    if (!failure) {
      // The next brokered call reads the new version from the store.
      this.deps.backends.invalidate(s.name);
      steps.push('cache dropped');
    }
    const outcome = failure ? 'failed' : 'rotated';
    const detail = failure ? detailOf(failure) : `rotated from version ${oldVersion ?? 'none'} to ${newVersion}`;
    const draft: EvidenceDraft = {
      type: 'rotation',
      secret: s.name,
      backend: s.backend,
      operator: req.operator,
      fencing_token: lock.token,
      old_version: oldVersion ?? null,
      new_version: newVersion ?? null,
      steps,
      outcome,
      ...(failure ? { error: detail } : {}),
      ...(req.force ? { forced: true } : {}),
    };
    let evidence: EvidenceRef | undefined;
    const now = clock.now();
    try {
      if (this.deps.evidence?.appendWith) {
        const done = await this.deps.evidence.appendWith(() => rotations.rotationStatements.finishRotation(lock, outcome, now), () => [draft]);
        evidence = done?.refs[0];
      } else {
        await rotations.finishRotation(lock, outcome, now);
      }
    } catch (err) {
      log.error({ err, secret: s.name, token: lock.token, outcome }, 'rotation: recording the outcome failed');
      return { ...base, outcome: 'failed', detail: `${detail}; recording it failed (the evidence log or state store is unavailable)`, ...(oldVersion !== undefined ? { oldVersion } : {}), ...(newVersion !== undefined ? { newVersion } : {}) };
    }
    log.info({ secret: s.name, backend: s.backend, token: lock.token, old_version: oldVersion, new_version: newVersion, outcome, steps }, `rotation ${outcome}`);
    return {
      ...base,
      outcome,
      detail,
      ...(oldVersion !== undefined ? { oldVersion } : {}),
      ...(newVersion !== undefined ? { newVersion } : {}),
      ...(evidence ? { evidence } : {}),
    };
  }
}

/** Our own words for a failure: the registry's message, and a store's own (value-free) reason for a refused write. */
function detailOf(err: BrokerError): string {
  const inner = err.cause instanceof BrokerError && err.cause.kind === 'failed_precondition' && /nothing was written/.test(err.cause.message) ? `: ${err.cause.message}` : '';
  return `${err.message}${inner}`;
}
