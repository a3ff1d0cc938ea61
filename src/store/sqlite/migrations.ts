/** Versioned, append-only: never edit a shipped migration, add the next one. */
export const SQLITE_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'leases and trust',
    sql: `
      CREATE TABLE leases (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL,
        context TEXT NOT NULL,
        purpose TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active','expired','revoked','exhausted','revoke_failed')),
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        max_expires_at INTEGER NOT NULL,
        max_uses INTEGER NOT NULL CHECK (max_uses > 0),
        uses_left INTEGER NOT NULL CHECK (uses_left >= 0),
        policy_version TEXT NOT NULL,
        policy_ids TEXT NOT NULL,
        tier TEXT NOT NULL,
        revoke_reason TEXT,
        updated_at INTEGER NOT NULL,
        CHECK (expires_at <= max_expires_at)
      ) STRICT;
      CREATE INDEX leases_agent_status ON leases (agent, status);
      CREATE INDEX leases_status_expiry ON leases (status, expires_at);
      CREATE TABLE trust (
        agent TEXT PRIMARY KEY,
        score INTEGER NOT NULL CHECK (score BETWEEN 0 AND 1000),
        updated_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'per-agent active lease counter',
    // Kept by triggers so the active-lease limit is an O(1) read. A lease that
    // expired but is not reaped yet still counts (for at most one reaper
    // interval): that errs toward refusing, never toward exceeding the limit.
    sql: `
      CREATE TABLE agent_active_leases (agent TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0)) STRICT;
      INSERT INTO agent_active_leases (agent, n) SELECT agent, COUNT(*) FROM leases WHERE status = 'active' GROUP BY agent;
      CREATE TRIGGER leases_active_insert AFTER INSERT ON leases WHEN NEW.status = 'active' BEGIN
        INSERT INTO agent_active_leases (agent, n) VALUES (NEW.agent, 1) ON CONFLICT (agent) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER leases_active_end AFTER UPDATE OF status ON leases WHEN OLD.status = 'active' AND NEW.status != 'active' BEGIN
        UPDATE agent_active_leases SET n = n - 1 WHERE agent = OLD.agent;
      END;
    `,
  },
];
