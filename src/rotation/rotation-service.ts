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
 *    write rejected. An AWS secret goes through AWS's four steps instead
 *    (`#rotateAws`), each recorded so the next run resumes after it;
 * 5. drop the registry's cache of the secret, so the next brokered call
 *    injects the new version;
 * 6. record one `rotation` entry (name, old and new version, token, steps,
 *    outcome; never a value) in the same commit as the outcome in the store
 *    (last success, outcome counts) and the lock's release.
 */
import type { BackendRegistry } from '../backends/registry';
import type { BrokerConfig, PostgresBackendConfig, SecretConfig } from '../config/config-types';
import type { PutSecretOptions } from '../backends/backend';
import { parseAdminUrl } from '../backends/postgres/admin-url';
import { sqlState } from '../backends/postgres/postgres-errors';
import { scramSha256Verifier } from '../backends/postgres/scram-verifier';
import { Client } from 'pg';
import { DEFAULT_ROTATION_LOCK_TTL_MS } from '../config/config-types';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Clock } from '../lib/clock';
import { BrokerError, invalidArgument, unimplemented } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { SecretValue } from '../lib/secret-value';
import type { RotationLock, RotationProgress, RotationRecord, RotationStore } from '../store/store';
import { awsRotationOf, rotationRequestToken, type AwsRotationSteps } from '../backends/aws/aws-rotation';
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
  /** Tests only: runs after each step of a PostgreSQL admin credential's or an AWS secret's rotation (a throw stops the attempt there). */
  afterStep?: (secret: string, step: string) => Promise<void>;
  /** Tests only: runs once the connection for `ALTER ROLE CURRENT_USER` is open, before the fence check and the ALTER. */
  afterAdminConnect?: (secret: string) => Promise<void>;
}

export interface RotationServiceDeps {
  config: Pick<BrokerConfig, 'secrets' | 'rotation' | 'backends'>;
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

  /**
   * At start: a rotation lock still held belongs to a daemon that stopped
   * mid-rotation (SQLite state has one daemon), so it is freed now rather than
   * at its expiry: the next `rotate` completes that rotation at once (a
   * pending PostgreSQL version is tried first). The fencing token still grows
   * at the next take, so nothing the stopped daemon had in flight can land.
   * Each freed lock is a `rotation` entry with outcome `interrupted`, in the
   * commit that frees it: that attempt's own entry was never written, and it
   * may have written a version upstream (the backend's history shows it).
   */
  async recoverAbandonedLocks(): Promise<void> {
    const rotations = this.deps.rotations;
    if (!rotations) return;
    const drafts = (freed: readonly RotationRecord[]): EvidenceDraft[] =>
      freed.map((r) => ({
        type: 'rotation',
        secret: r.secret,
        backend: Object.hasOwn(this.deps.config.secrets, r.secret) ? this.deps.config.secrets[r.secret]!.backend : null,
        operator: null,
        fencing_token: r.token,
        old_version: null,
        new_version: null,
        steps: [],
        // What the stopped attempt had recorded: the AWS step it reached, or the version it staged.
        ...(r.progress ? { reached: r.progress.step, pending_version: r.progress.pending } : r.pendingVersion !== undefined ? { pending_version: r.pendingVersion } : {}),
        outcome: 'interrupted',
        error: 'the daemon stopped during this rotation; a new version may have been written upstream under this token; the next rotate run completes or repeats it',
      }));
    const { evidence, log } = this.deps;
    if (!evidence?.appendWith) {
      const freed = await rotations.releaseAbandonedRotationLocks();
      if (freed.length > 0) log.warn({ secrets: freed.map((f) => f.secret) }, 'rotation locks left by a daemon that stopped mid-rotation were released (no evidence log to record them); the next rotate run completes those rotations');
      return;
    }
    let freed: readonly RotationRecord[];
    try {
      freed =
        (
          await evidence.appendWith(() => {
            const f = rotations.rotationStatements.releaseAbandoned();
            return f.length > 0 ? f : undefined;
          }, drafts)
        )?.value ?? [];
    } catch (err) {
      // Not freed unrecorded: the locks run out at their expiry, and the next start tries again.
      log.error({ err }, 'could not record the rotations a stopped daemon left; their locks stay until they expire');
      return;
    }
    if (freed.length > 0) {
      log.warn({ secrets: freed.map((f) => f.secret), tokens: freed.map((f) => f.token) }, 'rotation locks left by a daemon that stopped mid-rotation were released and recorded as interrupted; the next rotate run completes those rotations');
    }
  }

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
    if (rec?.pendingVersion !== undefined || rec?.progress !== undefined) return { ...base, outcome: 'would_rotate', detail: 'an interrupted rotation is pending: the next run completes it' };
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
    if (!req.force && rec?.pendingVersion === undefined && rec?.progress === undefined && dueAt !== undefined && dueAt > clock.now()) {
      await rotations.releaseRotationLock(lock);
      return { ...base, outcome: 'skipped', detail: `not due until ${iso(dueAt)} (last rotated ${iso(rec?.lastRotatedAt)})` };
    }
    const work: Attempt = { steps: ['locked'], fenced: false, wrote: [] };
    const { steps } = work;
    let failure: BrokerError | undefined;
    const fence = async (): Promise<void> => {
      if (!(await rotations.rotationFenceHolds(s.name, lock.token, clock.now()))) {
        work.fenced = true;
        throw new BrokerError('failed_precondition', `fencing token ${lock.token} is no longer current`);
      }
    };
    const admin = this.#adminOf(s);
    try {
      if (this.deps.config.backends[s.backend]?.kind === 'aws-secrets-manager') await this.#rotateAws(rotations, s, lock, rec, work, fence);
      else if (admin) await this.#rotateAdmin(rotations, s, admin, lock, rec, work, fence);
      else await this.#rotateStatic(s, lock, work, fence);
    } catch (err) {
      failure = work.fenced
        ? new BrokerError('failed_precondition', `the write was rejected by the fence: token ${lock.token} is no longer current (the lock expired or another rotation took it); ${fencedEffect(work.wrote)}`)
        : err instanceof BrokerError
          ? err
          : new BrokerError('internal', 'rotation failed', { cause: err });
      log.warn({ err, secret: s.name, backend: s.backend, token: lock.token, steps }, 'rotation failed');
    }
    if (!failure) {
      // The next brokered call reads the new version from the store.
      this.deps.backends.invalidate(s.name);
      if (admin) this.deps.backends.invalidate(adminUrlSecretName(admin.name));
      steps.push('cache dropped');
    }
    const { oldVersion, newVersion } = work;
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

  /** A configured postgres backend whose admin URL (`url_secret`) is this secret, if any. */
  #adminOf(s: SecretConfig): PostgresBackendConfig | undefined {
    for (const b of Object.values(this.deps.config.backends)) {
      if (b.kind === 'postgres' && b.urlSecret.backend === s.backend && b.urlSecret.name === s.ref) return b;
    }
    return undefined;
  }

  /** Reads a version (default the current) straight from the store, never the cache; version 0 and no value when the name is new. */
  async #read(s: SecretConfig, name: string, version?: number): Promise<{ version: number; value?: SecretValue }> {
    return this.deps.backends.call(s.backend, `reading secret ${s.name} to rotate it`, async (b) => {
      if (!b.static) throw new BrokerError('failed_precondition', `backend ${s.backend} holds no static secrets`);
      try {
        const v = await b.static.get(name, version !== undefined ? { version } : {});
        return { version: v.version, value: v.value };
      } catch (err) {
        // A secret the store does not have yet is created by its first rotation.
        if (err instanceof BrokerError && err.kind === 'not_found' && version === undefined) return { version: 0 };
        throw err;
      }
    });
  }

  async #write(s: SecretConfig, name: string, value: SecretValue, opts: PutSecretOptions): Promise<number> {
    const written = await this.deps.backends.call(s.backend, `writing secret ${s.name} (rotation)`, async (b) => {
      if (!b.static?.put) throw new BrokerError('failed_precondition', `backend ${s.backend} cannot write secrets`);
      return b.static.put(name, value, opts);
    });
    return written.version;
  }

  /** Whether the AWS version `versionId` of `s` (an admin URL) logs in to backend `pg` (read by id, wiped after). */
  async #logsIn(s: SecretConfig, versionId: string, pg: string): Promise<boolean> {
    const v = await this.deps.backends.call(s.backend, `reading a version of secret ${s.name} (rotation)`, async (b) => awsRotationOf(b.static, s.backend).readVersion(s.ref, { versionId }));
    try {
      return await canLogIn(v.value, pg);
    } finally {
      v.value.wipe();
    }
  }

  /** The fence `alterOwnPassword` runs on its open connection, right before the ALTER (after the tests' `afterAdminConnect` hook). */
  #fenceAfterConnect(s: SecretConfig, fence: () => Promise<void>): () => Promise<void> {
    return async () => {
      await this.deps.hooks?.afterAdminConnect?.(s.name);
      await fence();
    };
  }

  /** A local or Vault secret: read the current version, write a new random value fenced on it. */
  async #rotateStatic(s: SecretConfig, lock: RotationLock, work: Attempt, fence: () => Promise<void>): Promise<void> {
    const current = await this.#read(s, s.ref);
    current.value?.wipe();
    if (current.version) work.oldVersion = current.version;
    work.steps.push('read');
    await this.deps.hooks?.beforeWrite?.(s.name, lock);
    const value = generateValue(s.rotation!.generator);
    try {
      work.steps.push('generated');
      work.newVersion = await this.#write(s, s.ref, value, { cas: current.version, fence });
      work.steps.push('written');
    } finally {
      value.wipe();
    }
  }

  /**
   * An AWS Secrets Manager secret, in AWS's four documented steps (run here,
   * never through RotateSecret), each recorded in the rotations row
   * (`progress`) once done, so a run killed between two steps is completed by
   * the next, which resumes after the recorded step:
   *
   * - createSecret: the new value as a version staged AWSPENDING only, its
   *   ClientRequestToken a UUID derived from (backend, secret, fencing token);
   * - setSecret: with `rotation.target: { postgres: <backend> }` (this secret
   *   is that backend's admin URL), ALTER ROLE CURRENT_USER with the new
   *   password's SCRAM verifier, unless the pending value already logs in (a
   *   resumed run); nothing otherwise;
   * - testSecret: AWSPENDING is still our version and, with a target, a fresh
   *   login with it works; without one, its value reads back as written. With
   *   a target and AWSPENDING moved by another writer, our version (read by
   *   its VersionId; the ALTER already happened) is finished if it logs in;
   *   if instead the previous version logs in, and always without a target,
   *   the attempt is abandoned; when neither logs in, progress is kept;
   * - finishSecret: AWSCURRENT moved to it with RemoveFromVersionId = the
   *   version read under the first run's lock (AWS refuses if it moved
   *   meanwhile), AWSPREVIOUS follows, AWSPENDING removed.
   */
  async #rotateAws(rotations: RotationStore, s: SecretConfig, lock: RotationLock, rec: RotationRecord | undefined, work: Attempt, fence: () => Promise<void>): Promise<void> {
    const t = s.rotation!.target ? this.deps.config.backends[s.rotation!.target.postgres] : undefined;
    const pg = t?.kind === 'postgres' ? t : undefined;
    const aws = <T>(what: string, fn: (r: AwsRotationSteps) => Promise<T>): Promise<T> =>
      this.deps.backends.call(s.backend, `${what} of secret ${s.name} (rotation)`, async (b) => fn(awsRotationOf(b.static, s.backend)));
    const record = async (progress: RotationProgress, note?: string): Promise<void> => {
      if (!(await rotations.setRotationProgress(s.name, lock.token, progress, this.deps.clock.now()))) {
        // Not `fenced` (which says nothing was written): the step's effect upstream stands.
        throw lockLostAfter(lock, progress.step);
      }
      work.steps.push(note ? `${progress.step} (${note})` : progress.step);
      await this.deps.hooks?.afterStep?.(s.name, progress.step);
    };
    /**
     * Another writer staged AWSPENDING (a paused rotator's late createSecret, a Lambda) and this run's version
     * cannot be finished: the attempt is abandoned, so the next run starts afresh (its createSecret moves
     * AWSPENDING) instead of failing here for ever.
     */
    const abandonMovedPending = async (): Promise<never> => {
      await rotations.setRotationProgress(s.name, lock.token, undefined, this.deps.clock.now());
      throw new BrokerError('failed_precondition', `AWSPENDING of secret ${s.name} is no longer the version this rotation created; nothing was made current; the next run starts afresh`);
    };
    let progress = rec?.progress;
    let written: SecretValue | undefined;
    try {
      if (progress) {
        work.steps.push(`resumed after ${progress.step}`);
        work.oldVersion = await aws('numbering', (r) => r.numberOf(s.ref, progress!.from));
      } else {
        const stages = await aws('reading the stages', (r) => r.stages(s.ref));
        const from = stages.current;
        if (!from) throw new BrokerError('failed_precondition', `secret ${s.name} has no AWSCURRENT version; store it first`);
        work.oldVersion = await aws('numbering', (r) => r.numberOf(s.ref, from));
        work.steps.push('read');
        if (pg) {
          const current = await aws('reading the current version', (r) => r.readVersion(s.ref, { versionId: from }));
          try {
            written = withPassword(current.value, generateValue(s.rotation!.generator), pg.name);
          } finally {
            current.value.wipe();
          }
        } else {
          written = generateValue(s.rotation!.generator);
        }
        work.steps.push('generated');
        await this.deps.hooks?.beforeWrite?.(s.name, lock);
        await fence();
        const token = rotationRequestToken(s.backend, s.ref, lock.token);
        const value = written;
        const pending = await aws('createSecret', (r) => r.createPending(s.ref, token, value));
        work.wrote.push('pending');
        progress = { step: 'createSecret', pending, from };
        await record(progress);
      }
      const { pending, from } = progress;
      if (progress.step === 'createSecret') {
        let note = 'no target';
        if (pg) {
          const next = await aws('reading the AWSPENDING version', (r) => r.readVersion(s.ref, { versionId: pending }));
          try {
            if (await canLogIn(next.value, pg.name)) note = `${pg.name}: the pending value already logs in`;
            else {
              const current = await aws('reading the previous version', (r) => r.readVersion(s.ref, { versionId: from }));
              try {
                await alterOwnPassword(current.value, next.value, pg.name, this.#fenceAfterConnect(s, fence));
                work.wrote.push('altered');
              } finally {
                current.value.wipe();
              }
              note = `${pg.name}: password set`;
            }
          } finally {
            next.value.wipe();
          }
        }
        progress = { step: 'setSecret', pending, from };
        await record(progress, note);
      }
      if (progress.step === 'setSecret') {
        const staged = await aws('reading AWSPENDING', (r) => r.readVersion(s.ref, { stage: 'AWSPENDING' }));
        const moved = staged.versionId !== pending;
        let got = staged;
        try {
          if (moved && !pg) await abandonMovedPending();
          if (pg) {
            // With a target, setSecret has ALTERed the password to our version's: abandoning it would leave the
            // only working password in a version with no label. So our version is read by its id and, when it
            // logs in, finished (finishSecret leaves the other writer's AWSPENDING alone).
            if (moved) got = await aws('reading the pending version', (r) => r.readVersion(s.ref, { versionId: pending }));
            if (!(await canLogIn(got.value, pg.name))) {
              // Abandoned only when the password is provably not ours: the previous version still logs in. When
              // neither does (the database down, or changed by hand), progress is kept and the next run tries again.
              if (moved && (await this.#logsIn(s, from, pg.name))) await abandonMovedPending();
              throw new BrokerError('unavailable', `backend ${pg.name}: a login with the pending admin URL failed; the next run tries again`);
            }
          } else if (written && !written.equals(got.value)) {
            throw new BrokerError('internal', `the AWSPENDING version of secret ${s.name} does not read back as written; nothing was made current`);
          }
        } finally {
          staged.value.wipe();
          got.value.wipe();
        }
        progress = { step: 'testSecret', pending, from };
        await record(progress, pg ? `${pg.name}: fresh login${moved ? '; AWSPENDING was moved by another writer' : ''}` : 'read back');
      }
      await fence();
      try {
        await aws('finishSecret', (r) => r.finish(s.ref, pending, from));
      } catch (err) {
        // Someone else made another version current since this rotation read it: its pending version is
        // abandoned (the next run starts afresh from the new current one, and its createSecret moves AWSPENDING).
        const inner = err instanceof BrokerError && err.cause instanceof BrokerError ? err.cause : undefined;
        if (inner?.kind === 'failed_precondition' && /AWSCURRENT .* moved/.test(inner.message)) await rotations.setRotationProgress(s.name, lock.token, undefined, this.deps.clock.now());
        throw err;
      }
      work.steps.push('finishSecret');
      await this.deps.hooks?.afterStep?.(s.name, 'finishSecret');
      work.newVersion = await aws('numbering', (r) => r.numberOf(s.ref, pending));
    } finally {
      written?.wipe();
    }
  }

  /**
   * The admin URL of a postgres backend: the role rotates its own password,
   * crash-safely. The new URL is stored first as a pending version (the
   * sibling secret `<name>.pending`, its version kept in the state store),
   * then `ALTER ROLE CURRENT_USER` sets the new password's SCRAM verifier, a
   * fresh login tests it, and only then is it written as the current version.
   * A run that died in between is completed by the next: it tries the pending
   * value (the ALTER happened: make it current), then the current one (it did
   * not: ALTER again with the pending value). Open connections keep working.
   */
  async #rotateAdmin(rotations: RotationStore, s: SecretConfig, pg: PostgresBackendConfig, lock: RotationLock, rec: RotationRecord | undefined, work: Attempt, fence: () => Promise<void>): Promise<void> {
    const pendingName = `${s.ref}.pending`;
    const step = async (name: string): Promise<void> => {
      work.steps.push(name);
      await this.deps.hooks?.afterStep?.(s.name, name);
    };
    const current = await this.#read(s, s.ref);
    if (!current.value) throw new BrokerError('failed_precondition', `secret ${s.name} (the admin URL of backend ${pg.name}) does not exist yet; store it first`);
    const currentUrl = current.value;
    work.oldVersion = current.version;
    let next: SecretValue | undefined;
    try {
      await step('read');
      let alter = true;
      if (rec?.pendingVersion !== undefined) {
        // An earlier run stopped part-way: complete it with its pending value.
        next = (await this.#read(s, pendingName, rec.pendingVersion)).value!;
        if (await canLogIn(next, pg.name)) {
          alter = false;
          await step('pending logs in');
        } else if (await canLogIn(currentUrl, pg.name)) {
          await step('current logs in');
        } else {
          throw new BrokerError('unavailable', `backend ${pg.name}: neither the pending nor the current admin login works (the database may be down); the next run tries again`);
        }
      } else {
        next = withPassword(currentUrl, generateValue(s.rotation!.generator), pg.name);
        await step('generated');
        const pendingVersion = await this.#write(s, pendingName, next, { fence });
        work.wrote.push('pending');
        if (!(await rotations.setPendingRotation(s.name, lock.token, pendingVersion, this.deps.clock.now()))) {
          throw lockLostAfter(lock, `the pending version (${pendingVersion}) was written`);
        }
        await step('pending stored');
      }
      if (alter) {
        await alterOwnPassword(currentUrl, next, pg.name, this.#fenceAfterConnect(s, fence));
        work.wrote.push('altered');
        await step('altered');
      }
      if (!(await canLogIn(next, pg.name))) throw new BrokerError('unavailable', `backend ${pg.name}: the new admin login did not work; the next run completes the rotation`);
      await step('login tested');
      await this.deps.hooks?.beforeWrite?.(s.name, lock);
      work.newVersion = await this.#write(s, s.ref, next, { cas: current.version, fence });
      await step('written');
    } finally {
      currentUrl.wipe();
      next?.wipe();
    }
  }
}

interface Attempt {
  steps: string[];
  fenced: boolean;
  /** What this run itself changed upstream, in order (not an earlier run's effects that it resumed). */
  wrote: AttemptEffect[];
  oldVersion?: number;
  newVersion?: number;
}

/** `pending`: a pending version (the admin URL's `<name>.pending`, or AWS's AWSPENDING version); `altered`: the database password. */
type AttemptEffect = 'pending' | 'altered';

/** What a run refused by the fence leaves behind, from what it wrote itself. */
function fencedEffect(wrote: readonly AttemptEffect[]): string {
  if (wrote.includes('altered')) return 'the new admin password was set in the database (the stored current value no longer logs in); the next run completes the rotation';
  // The admin login's pending version (stored before its ALTER) stays, and the next run completes the rotation with it or starts afresh.
  if (wrote.includes('pending')) return 'the current value is unchanged, and the pending version this run stored stays for the next run';
  return 'nothing was written';
}

/** The name under which the registry caches a postgres backend's admin URL. */
const adminUrlSecretName = (backend: string): string => `backends.${backend}.url_secret`;

/** `url` with its password replaced by `password` (which is wiped). */
function withPassword(url: SecretValue, password: SecretValue, backend: string): SecretValue {
  const target = parseAdminUrl(url, backend);
  target.password.wipe();
  const u = new URL(url.revealString());
  u.password = encodeURIComponent(password.revealString());
  password.wipe();
  return SecretValue.fromString(u.toString());
}

function clientFor(url: SecretValue, backend: string): Client {
  const t = parseAdminUrl(url, backend);
  const password = t.password.revealString();
  t.password.wipe();
  const c = new Client({ host: t.host, port: t.port, user: t.user, database: t.database, password, ssl: t.ssl, connectionTimeoutMillis: 5000, query_timeout: 5000, application_name: 'secret-broker-rotation' });
  // The server may end the connection while it idles (a restart, pg_terminate_backend): pg then emits
  // 'error', which with no listener would crash the daemon. The next query on it fails instead.
  c.on('error', () => undefined);
  return c;
}

/** A fresh login with `url` (a new connection, not the pool's). */
async function canLogIn(url: SecretValue, backend: string): Promise<boolean> {
  const c = clientFor(url, backend);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * ALTER ROLE CURRENT_USER with the SCRAM verifier of `next`'s password, over a login with `current`.
 * `fence` runs on the open connection, right before the ALTER: the connect may take up to its
 * timeout, and a rotator whose lock was lost meanwhile must not change the password.
 */
async function alterOwnPassword(current: SecretValue, next: SecretValue, backend: string, fence: () => Promise<void>): Promise<void> {
  const t = parseAdminUrl(next, backend);
  let verifier: string;
  try {
    verifier = await scramSha256Verifier(t.password);
  } finally {
    t.password.wipe();
  }
  if (!/^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier)) throw new BrokerError('internal', 'the SCRAM verifier is malformed');
  const c = clientFor(current, backend);
  const failed = (err: unknown): BrokerError =>
    new BrokerError('unavailable', `backend ${backend}: could not set the new admin password (${sqlState(err) ?? 'connection failed'})`, { cause: err });
  try {
    await c.connect().catch((err: unknown) => {
      throw failed(err);
    });
    // A refused fence throws as is (the rotation reports it as fenced: nothing was ALTERed).
    await fence();
    // The verifier, never the password, goes to the server (and its statement log).
    await c.query(`ALTER ROLE CURRENT_USER PASSWORD '${verifier}'`).catch((err: unknown) => {
      throw failed(err);
    });
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Our own words for a failure: the registry's message, and a store's own (value-free) reason for a refused write. */
function detailOf(err: BrokerError): string {
  const inner = err.cause instanceof BrokerError && err.cause.kind === 'failed_precondition' && /nothing was (written|made current)/.test(err.cause.message) ? `: ${err.cause.message}` : '';
  return `${err.message}${inner}`;
}

/** The lock was lost after a step whose effect upstream stands (so not "nothing was written"). */
function lockLostAfter(lock: RotationLock, step: string): BrokerError {
  return new BrokerError('failed_precondition', `the lock was lost after ${step}: fencing token ${lock.token} is no longer current; what that step wrote stays, and the next run completes or replaces it`);
}
