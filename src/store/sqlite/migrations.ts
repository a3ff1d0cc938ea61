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
];
