import type Database from 'better-sqlite3';
import type { RotationLock, RotationProgress, RotationRecord, RotationStatements, RotationStore } from '../store';

interface RotationRow {
  secret: string;
  token: number;
  holder: string | null;
  locked_until: number | null;
  last_rotated_at: number | null;
  last_outcome: 'rotated' | 'failed' | null;
  last_attempt_at: number | null;
  rotated: number;
  failed: number;
  pending_version: number | null;
  progress: string | null;
}

function fromRow(r: RotationRow): RotationRecord {
  return {
    secret: r.secret,
    token: r.token,
    ...(r.holder !== null ? { holder: r.holder } : {}),
    ...(r.locked_until !== null ? { lockedUntil: r.locked_until } : {}),
    ...(r.last_rotated_at !== null ? { lastRotatedAt: r.last_rotated_at } : {}),
    ...(r.last_outcome !== null ? { lastOutcome: r.last_outcome } : {}),
    ...(r.last_attempt_at !== null ? { lastAttemptAt: r.last_attempt_at } : {}),
    rotated: r.rotated,
    failed: r.failed,
    ...(r.pending_version !== null ? { pendingVersion: r.pending_version } : {}),
    ...(r.progress !== null ? { progress: JSON.parse(r.progress) as RotationProgress } : {}),
  };
}

/**
 * Rotation locks and history (migration 14) on the store's database. Writes go
 * through the store's group commit (`write`); reads are plain statements.
 */
export class SqliteRotations implements RotationStore {
  readonly #st;
  readonly rotationStatements: RotationStatements;

  constructor(
    db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
  ) {
    this.#st = {
      get: db.prepare('SELECT * FROM rotations WHERE secret = ?'),
      list: db.prepare('SELECT * FROM rotations ORDER BY secret'),
      // One statement: a free (or expired) lock is taken with token + 1; a held one changes nothing.
      take: db.prepare(`INSERT INTO rotations (secret, token, holder, locked_until) VALUES (@secret, 1, @holder, @until)
        ON CONFLICT (secret) DO UPDATE SET token = token + 1, holder = excluded.holder, locked_until = excluded.locked_until
        WHERE rotations.locked_until IS NULL OR rotations.locked_until <= @now
        RETURNING *`),
      fence: db.prepare('SELECT 1 AS ok FROM rotations WHERE secret = @secret AND token = @token AND locked_until > @now'),
      release: db.prepare('UPDATE rotations SET holder = NULL, locked_until = NULL WHERE secret = @secret AND token = @token'),
      releaseAll: db.prepare('UPDATE rotations SET holder = NULL, locked_until = NULL WHERE holder IS NOT NULL RETURNING *'),
      pending: db.prepare('UPDATE rotations SET pending_version = @version WHERE secret = @secret AND token = @token AND locked_until > @now'),
      progress: db.prepare('UPDATE rotations SET progress = @progress WHERE secret = @secret AND token = @token AND locked_until > @now'),
      finish: db.prepare(`UPDATE rotations SET
          rotated = rotated + (@outcome = 'rotated'), failed = failed + (@outcome = 'failed'),
          last_outcome = @outcome, last_attempt_at = @now,
          last_rotated_at = CASE WHEN @outcome = 'rotated' THEN @now ELSE last_rotated_at END,
          pending_version = CASE WHEN @outcome = 'rotated' AND token = @token THEN NULL ELSE pending_version END,
          progress = CASE WHEN @outcome = 'rotated' AND token = @token THEN NULL ELSE progress END,
          holder = CASE WHEN token = @token THEN NULL ELSE holder END,
          locked_until = CASE WHEN token = @token THEN NULL ELSE locked_until END
        WHERE secret = @secret RETURNING *`),
    };
    this.rotationStatements = {
      finishRotation: (lock, outcome, now) => {
        const r = this.#st.finish.get({ secret: lock.secret, token: lock.token, outcome, now }) as RotationRow | undefined;
        return r ? fromRow(r) : undefined;
      },
      releaseAbandoned: () => (this.#st.releaseAll.all() as RotationRow[]).map(fromRow),
    };
  }

  async getRotation(secret: string): Promise<RotationRecord | undefined> {
    const r = this.#st.get.get(secret) as RotationRow | undefined;
    return r ? fromRow(r) : undefined;
  }

  async listRotations(): Promise<RotationRecord[]> {
    return (this.#st.list.all() as RotationRow[]).map(fromRow);
  }

  takeRotationLock(secret: string, holder: string, now: number, ttlMs: number): Promise<RotationLock | undefined> {
    return this.write(() => {
      const r = this.#st.take.get({ secret, holder, until: now + ttlMs, now }) as RotationRow | undefined;
      return r ? { secret, holder, token: r.token, lockedUntil: r.locked_until! } : undefined;
    });
  }

  async rotationFenceHolds(secret: string, token: number, now: number): Promise<boolean> {
    return this.#st.fence.get({ secret, token, now }) !== undefined;
  }

  setPendingRotation(secret: string, token: number, version: number | undefined, now: number): Promise<boolean> {
    return this.write(() => this.#st.pending.run({ secret, token, version: version ?? null, now }).changes === 1);
  }

  setRotationProgress(secret: string, token: number, progress: RotationProgress | undefined, now: number): Promise<boolean> {
    const json = progress ? JSON.stringify({ step: progress.step, pending: progress.pending, from: progress.from }) : null;
    return this.write(() => this.#st.progress.run({ secret, token, progress: json, now }).changes === 1);
  }

  releaseRotationLock(lock: RotationLock): Promise<void> {
    return this.write(() => {
      this.#st.release.run({ secret: lock.secret, token: lock.token });
    });
  }

  releaseAbandonedRotationLocks(): Promise<RotationRecord[]> {
    return this.write(() => this.rotationStatements.releaseAbandoned());
  }

  finishRotation(lock: RotationLock, outcome: 'rotated' | 'failed', now: number): Promise<RotationRecord | undefined> {
    return this.write(() => this.rotationStatements.finishRotation(lock, outcome, now));
  }
}
