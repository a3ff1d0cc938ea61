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
  {
    version: 3,
    name: 'evidence log',
    // The Merkle log (DESIGN: Evidence). Entries hold the exact leaf bytes and
    // their leaf hash (the tree's level 0); nodes hold every complete subtree
    // hash above the leaves, keyed (level, idx); checkpoints hold every signed
    // tree head. All three are append-only: the triggers turn an accidental
    // UPDATE or DELETE into an error.
    sql: `
      CREATE TABLE evidence_entries (
        idx INTEGER PRIMARY KEY CHECK (idx >= 0),
        type TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        bytes BLOB NOT NULL CHECK (length(bytes) BETWEEN 2 AND 65536),
        leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
      ) STRICT;
      CREATE TABLE evidence_nodes (
        level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
        idx INTEGER NOT NULL CHECK (idx >= 0),
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, idx)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE evidence_checkpoints (
        seq INTEGER PRIMARY KEY,
        size INTEGER NOT NULL CHECK (size >= 0),
        root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
        key_id TEXT NOT NULL,
        note BLOB NOT NULL,
        signed_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX evidence_checkpoints_size ON evidence_checkpoints (size);
      CREATE TRIGGER evidence_entries_no_update BEFORE UPDATE ON evidence_entries BEGIN SELECT RAISE(ABORT, 'evidence entries are append-only'); END;
      CREATE TRIGGER evidence_entries_no_delete BEFORE DELETE ON evidence_entries BEGIN SELECT RAISE(ABORT, 'evidence entries are append-only'); END;
      CREATE TRIGGER evidence_nodes_no_update BEFORE UPDATE ON evidence_nodes BEGIN SELECT RAISE(ABORT, 'evidence nodes are append-only'); END;
      CREATE TRIGGER evidence_nodes_no_delete BEFORE DELETE ON evidence_nodes BEGIN SELECT RAISE(ABORT, 'evidence nodes are append-only'); END;
      CREATE TRIGGER evidence_checkpoints_no_update BEFORE UPDATE ON evidence_checkpoints BEGIN SELECT RAISE(ABORT, 'evidence checkpoints are append-only'); END;
      CREATE TRIGGER evidence_checkpoints_no_delete BEFORE DELETE ON evidence_checkpoints BEGIN SELECT RAISE(ABORT, 'evidence checkpoints are append-only'); END;
    `,
  },
  {
    version: 4,
    name: 'witness-cosigned evidence checkpoints',
    // A signed checkpoint with the cosignatures witnesses returned for it
    // (c2sp.org/tlog-cosignature). The log's own note stays in
    // evidence_checkpoints; this is what GetCheckpoint and exports hand out.
    // Append-only, like the other evidence tables.
    sql: `
      CREATE TABLE evidence_cosigned_checkpoints (
        seq INTEGER PRIMARY KEY,
        size INTEGER NOT NULL CHECK (size >= 0),
        key_id TEXT NOT NULL,
        note BLOB NOT NULL,
        cosigners INTEGER NOT NULL CHECK (cosigners >= 1),
        cosigned_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX evidence_cosigned_checkpoints_size ON evidence_cosigned_checkpoints (size);
      CREATE TRIGGER evidence_cosigned_checkpoints_no_update BEFORE UPDATE ON evidence_cosigned_checkpoints BEGIN SELECT RAISE(ABORT, 'evidence checkpoints are append-only'); END;
      CREATE TRIGGER evidence_cosigned_checkpoints_no_delete BEFORE DELETE ON evidence_cosigned_checkpoints BEGIN SELECT RAISE(ABORT, 'evidence checkpoints are append-only'); END;
    `,
  },
  {
    version: 5,
    name: 'evidence subtree hashes in their entry rows',
    // The tree's nodes above the leaves move into the entry row that completes
    // them: node (level L, index k) is completed by entry n = (k+1)*2^L - 1,
    // and entry n completes one node per trailing 1 bit of n, levels 1..t, which
    // `subtrees` holds in level order (32 bytes each; empty when t = 0). An
    // append is then one row insert, always at the end of one B-tree, where a
    // (level, idx) table took another insert per node, each in the middle of
    // its own level's range (a page split, and a WAL frame, per level). The
    // CHECK holds each row to exactly t hashes. Existing nodes are copied over;
    // a node missing from the old table fails the CHECK, and the migration
    // with it.
    //
    // It also takes over the open-intents index (evidence_open_intents: one
    // row per invoke.intent with no invoke.result or invoke.unknown yet, kept
    // by two AFTER INSERT triggers on evidence_entries in the very
    // transaction that stores the entries). Before, the ledger created it at
    // start-up; its triggers went with the old table here, so the migration
    // rebuilds the index from the entries (a log written before the index
    // existed gets it too) and recreates the triggers: the index is never
    // behind the log, whatever opens the database next. The rebuild keeps
    // what the triggers would have: an intent is open unless a result or
    // unknown for the same lease and use comes after it; an entry that is not
    // JSON (the integrity check refuses such a log next, naming it) is skipped.
    // The grouped nodes go through a temp table keyed by entry: joining the
    // grouped subquery directly was quadratic (146 s for 100,000 entries
    // against 0.4 s; bench/migration-v5.ts).
    sql: `
      CREATE TABLE evidence_entries_v5 (
        idx INTEGER PRIMARY KEY CHECK (idx >= 0),
        type TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        bytes BLOB NOT NULL CHECK (length(bytes) BETWEEN 2 AND 65536),
        leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),
        subtrees BLOB NOT NULL CHECK (
          length(subtrees) % 32 = 0
          AND (((idx + 1) >> (length(subtrees) / 32)) & 1) = 1
          AND ((idx + 1) & ((1 << (length(subtrees) / 32)) - 1)) = 0
        )
      ) STRICT;
      CREATE TEMP TABLE evidence_subtrees_v5 (entry INTEGER PRIMARY KEY, hashes BLOB NOT NULL);
      INSERT INTO temp.evidence_subtrees_v5 (entry, hashes)
        SELECT ((idx + 1) << level) - 1, unhex(group_concat(hex(hash), '' ORDER BY level))
        FROM evidence_nodes GROUP BY 1;
      INSERT INTO evidence_entries_v5 (idx, type, time_ms, bytes, leaf_hash, subtrees)
        SELECT e.idx, e.type, e.time_ms, e.bytes, e.leaf_hash, COALESCE(n.hashes, x'')
        FROM evidence_entries e LEFT JOIN temp.evidence_subtrees_v5 n ON n.entry = e.idx
        ORDER BY e.idx;
      DROP TABLE temp.evidence_subtrees_v5;
      DROP TABLE evidence_nodes;
      DROP TABLE evidence_entries;
      ALTER TABLE evidence_entries_v5 RENAME TO evidence_entries;
      CREATE TRIGGER evidence_entries_no_update BEFORE UPDATE ON evidence_entries BEGIN SELECT RAISE(ABORT, 'evidence entries are append-only'); END;
      CREATE TRIGGER evidence_entries_no_delete BEFORE DELETE ON evidence_entries BEGIN SELECT RAISE(ABORT, 'evidence entries are append-only'); END;

      DROP TABLE IF EXISTS evidence_open_intents;
      CREATE TABLE evidence_open_intents (
        lease_id TEXT NOT NULL,
        use_no INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        PRIMARY KEY (lease_id, use_no)
      ) WITHOUT ROWID;
      CREATE TEMP TABLE evidence_settled_v5 (lease_id TEXT NOT NULL, use_no INTEGER NOT NULL, last_idx INTEGER NOT NULL, PRIMARY KEY (lease_id, use_no)) WITHOUT ROWID;
      INSERT INTO temp.evidence_settled_v5 (lease_id, use_no, last_idx)
        SELECT lease_id, use_no, MAX(idx) FROM (
          SELECT json_extract(CAST(bytes AS TEXT), '$.lease.id') AS lease_id, json_extract(CAST(bytes AS TEXT), '$.lease.use') AS use_no, idx
          FROM evidence_entries WHERE type IN ('invoke.result', 'invoke.unknown') AND json_valid(CAST(bytes AS TEXT))
        ) WHERE lease_id IS NOT NULL AND use_no IS NOT NULL
        GROUP BY lease_id, use_no
        ON CONFLICT (lease_id, use_no) DO UPDATE SET last_idx = MAX(last_idx, excluded.last_idx);
      INSERT OR IGNORE INTO evidence_open_intents (lease_id, use_no, idx)
        SELECT lease_id, use_no, idx FROM (
          SELECT json_extract(CAST(bytes AS TEXT), '$.lease.id') AS lease_id, json_extract(CAST(bytes AS TEXT), '$.lease.use') AS use_no, idx
          FROM evidence_entries WHERE type = 'invoke.intent' AND json_valid(CAST(bytes AS TEXT))
        ) i
        WHERE NOT EXISTS (SELECT 1 FROM temp.evidence_settled_v5 s WHERE s.lease_id = i.lease_id AND s.use_no = i.use_no AND s.last_idx > i.idx)
        ORDER BY idx;
      DROP TABLE temp.evidence_settled_v5;
      CREATE TRIGGER evidence_open_intent_add AFTER INSERT ON evidence_entries
      WHEN NEW.type = 'invoke.intent' BEGIN
        INSERT OR IGNORE INTO evidence_open_intents (lease_id, use_no, idx)
        VALUES (json_extract(CAST(NEW.bytes AS TEXT), '$.lease.id'), json_extract(CAST(NEW.bytes AS TEXT), '$.lease.use'), NEW.idx);
      END;
      CREATE TRIGGER evidence_open_intent_settle AFTER INSERT ON evidence_entries
      WHEN NEW.type IN ('invoke.result', 'invoke.unknown') BEGIN
        DELETE FROM evidence_open_intents
        WHERE lease_id = json_extract(CAST(NEW.bytes AS TEXT), '$.lease.id') AND use_no = json_extract(CAST(NEW.bytes AS TEXT), '$.lease.use');
      END;
    `,
  },
  {
    version: 6,
    name: 'lease decision params',
    // The params a lease was decided with (canonical JSON, at most 8 KiB,
    // checked at RequestLease), so every use and renewal re-decides the same
    // question. Leases from before keep '{}', what they were re-checked with.
    sql: `ALTER TABLE leases ADD COLUMN params TEXT NOT NULL DEFAULT '{}' CHECK (length(params) <= 8192);`,
  },
  {
    version: 7,
    name: 'dynamic credential handles',
    // The handle of a dynamic credential minted for a lease (backend name, id,
    // attributes: JSON, never secret), when it was revoked upstream, and, while
    // that revocation fails (status revoke_failed), the terminal status the
    // lease returns to once it succeeds. The partial index holds only leases
    // whose credential is still owed a revocation: the retry loop reads it
    // after a restart too.
    sql: `
      ALTER TABLE leases ADD COLUMN credential TEXT CHECK (credential IS NULL OR (json_valid(credential) AND length(credential) <= 4096));
      ALTER TABLE leases ADD COLUMN credential_revoked_at INTEGER;
      ALTER TABLE leases ADD COLUMN ended_as TEXT CHECK (ended_as IS NULL OR ended_as IN ('revoked','expired'));
      CREATE INDEX leases_credential_owed ON leases (updated_at)
        WHERE credential IS NOT NULL AND credential_revoked_at IS NULL AND status IN ('revoked','expired','revoke_failed');
    `,
  },
  {
    version: 8,
    name: 'credential revocation due times',
    // When the next upstream revocation of an owed credential is due, set by
    // each failed attempt. The retry loop reads owed credentials by due time
    // (the retry time, or else when the lease ended): one that keeps failing
    // goes behind the others each time, so a few hundred that can never be
    // revoked (a backend removed from the config) cannot hide a later one.
    sql: `
      ALTER TABLE leases ADD COLUMN credential_retry_at INTEGER;
      DROP INDEX leases_credential_owed;
      CREATE INDEX leases_credential_owed ON leases (COALESCE(credential_retry_at, updated_at), id)
        WHERE credential IS NOT NULL AND credential_revoked_at IS NULL AND status IN ('revoked','expired','revoke_failed');
    `,
  },
  {
    version: 9,
    name: 'pending dynamic credentials',
    // A credential the broker has named (backend `plan`) and is about to
    // create for a lease not stored yet: recorded durably before the backend
    // is asked to create it, removed in the commit that stores the lease (or
    // once the credential is revoked after a refused grant). A row that stays
    // names a credential a crash may have left upstream: the orphan sweeper
    // revokes it. The index on the live handles of leases is how the sweeper
    // asks "does a lease own this credential?" without a scan.
    sql: `
      CREATE TABLE pending_credentials (
        backend TEXT NOT NULL,
        handle_id TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes) AND length(attributes) <= 4096),
        lease_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (backend, handle_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX leases_credential_live ON leases (json_extract(credential, '$.backend'), json_extract(credential, '$.id'))
        WHERE credential IS NOT NULL;
    `,
  },
  {
    version: 10,
    name: 'budget reservations',
    // actions.<a>.budget: one row per lease of an action with a budget (a
    // one-shot Invoke's included), stored in the transaction that stores the
    // lease and its evidence, after the limit was checked there. A row holds
    // amount x uses while its lease is live; when the lease ends (revoked,
    // expired, exhausted, revoke_failed: the trigger, so no path forgets it)
    // it keeps only what was spent and the unused uses' share is released.
    // The window sums what live leases hold, whatever their age (their uses
    // may still be spent now), and what ended leases spent when they ended
    // after now - per (an end is no earlier than the spending it records, so
    // this errs toward counting). `approval_id` on a lease
    // is the approval it was granted under (its re-checks honour it).
    sql: `
      CREATE TABLE budget_reservations (
        lease_id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        action TEXT NOT NULL,
        field TEXT NOT NULL,
        reserved_at INTEGER NOT NULL,
        amount INTEGER NOT NULL CHECK (amount >= 0),
        uses INTEGER NOT NULL CHECK (uses >= 1),
        reserved INTEGER NOT NULL CHECK (reserved = amount * uses),
        spent INTEGER NOT NULL DEFAULT 0 CHECK (spent >= 0 AND spent <= reserved),
        released_at INTEGER
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX budget_reservations_window ON budget_reservations (agent, action, field, released_at);
      CREATE TRIGGER budget_release AFTER UPDATE OF status ON leases
      WHEN OLD.status = 'active' AND NEW.status != 'active' BEGIN
        UPDATE budget_reservations SET spent = amount * MAX(0, MIN(uses, NEW.max_uses - NEW.uses_left)), released_at = NEW.updated_at
        WHERE lease_id = NEW.id AND released_at IS NULL;
      END;
      ALTER TABLE leases ADD COLUMN approval_id TEXT;
    `,
  },
  {
    version: 11,
    name: 'approvals',
    // A request for approval (@obligation("approval:<group>")): the agent it
    // belongs to, the groups that must approve, what it is bound to (the
    // canonical binding and its SHA-256), the trust it was asked with, its
    // votes, and once approved the one lease it was spent on. An approval is
    // consumed by a conditional update inside the lease-issue transaction:
    // `lease_id` is set exactly when the state is consumed. `version` makes
    // every other update conditional on what was read.
    sql: `
      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        groups TEXT NOT NULL CHECK (json_valid(groups) AND json_type(groups) = 'array' AND length(groups) <= 4096),
        binding TEXT NOT NULL CHECK (json_valid(binding) AND length(binding) <= 32768),
        binding_hash TEXT NOT NULL CHECK (length(binding_hash) = 64),
        trust TEXT NOT NULL CHECK (json_valid(trust)),
        state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','expired','consumed')),
        votes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(votes) AND length(votes) <= 65536),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        decided_at INTEGER,
        decided_by TEXT,
        lease_id TEXT,
        consumed_at INTEGER,
        version INTEGER NOT NULL DEFAULT 1,
        updated_at INTEGER NOT NULL,
        CHECK ((state = 'consumed') = (lease_id IS NOT NULL))
      ) STRICT;
      CREATE INDEX approvals_open ON approvals (expires_at) WHERE state IN ('pending','approved');
      CREATE INDEX approvals_agent ON approvals (agent, state, binding_hash);
      CREATE INDEX approvals_created ON approvals (created_at, id);
    `,
  },
  {
    version: 12,
    name: 'trust confirmation and history',
    // When a signal or a set last confirmed an agent's score (context.trust_fresh;
    // NULL: never), and every change of a score: the signal (kind, weight,
    // detail), a set (reason) or decay that crossed a tier, with who and the
    // tiers either side. `updated_at` stays when the score last changed, the
    // point lazy decay runs from.
    sql: `
      ALTER TABLE trust ADD COLUMN confirmed_at INTEGER;
      CREATE TABLE trust_history (
        id INTEGER PRIMARY KEY,
        agent TEXT NOT NULL,
        at INTEGER NOT NULL,
        old_score INTEGER NOT NULL CHECK (old_score BETWEEN 0 AND 1000),
        new_score INTEGER NOT NULL CHECK (new_score BETWEEN 0 AND 1000),
        old_tier TEXT NOT NULL,
        new_tier TEXT NOT NULL,
        kind TEXT NOT NULL,
        weight INTEGER,
        note TEXT NOT NULL CHECK (length(note) <= 2048),
        by TEXT NOT NULL
      ) STRICT;
      CREATE INDEX trust_history_agent ON trust_history (agent, id);
    `,
  },
  {
    version: 13,
    name: 'break-glass overrides',
    // A break-glass override (src/breakglass): an admin asks, a second
    // operator confirms; while active and unexpired the agent's RequestLease
    // for the action (and `resource`, '' meaning every resource) is granted
    // though policy would not permit it. Every change commits with its
    // `breakglass` entry. `reviewed_at` stays NULL until someone marks it
    // reviewed (`approvals review`). `version` makes updates conditional.
    sql: `
      CREATE TABLE breakglass (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        action TEXT NOT NULL,
        resource TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
        ttl_ms INTEGER NOT NULL CHECK (ttl_ms > 0),
        state TEXT NOT NULL CHECK (state IN ('pending','active','revoked','expired','ended')),
        requested_by TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        confirmed_by TEXT,
        confirmed_at INTEGER,
        expires_at INTEGER NOT NULL,
        ended_by TEXT,
        ended_at INTEGER,
        end_reason TEXT,
        reviewed_by TEXT,
        reviewed_at INTEGER,
        review_note TEXT,
        version INTEGER NOT NULL DEFAULT 1,
        updated_at INTEGER NOT NULL,
        CHECK ((state = 'active') <= (confirmed_by IS NOT NULL)),
        CHECK ((reviewed_at IS NULL) = (reviewed_by IS NULL))
      ) STRICT;
      CREATE INDEX breakglass_open ON breakglass (agent, action, expires_at) WHERE state IN ('pending','active');
      CREATE INDEX breakglass_unreviewed ON breakglass (requested_at, id) WHERE reviewed_at IS NULL;
      CREATE INDEX breakglass_requested ON breakglass (requested_at, id);
      -- The leases granted under each override (written in the grant's transaction), so that
      -- revoking the override revokes them at once.
      CREATE TABLE breakglass_leases (
        override_id TEXT NOT NULL,
        lease_id TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        PRIMARY KEY (override_id, lease_id)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 14,
    name: 'rotation locks and history',
    // One row per configured secret that rotation touched: the lock (holder,
    // locked_until) with its fencing token, which only grows (every take of
    // the lock adds one), the last success and the last outcome, outcome
    // counts (for metrics), and a pending version a crashed rotation left
    // (PostgreSQL admin credential: its version number, never a value).
    sql: `
      CREATE TABLE rotations (
        secret TEXT PRIMARY KEY,
        token INTEGER NOT NULL CHECK (token >= 1),
        holder TEXT,
        locked_until INTEGER,
        last_rotated_at INTEGER,
        last_outcome TEXT,
        last_attempt_at INTEGER,
        rotated INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        pending_version INTEGER,
        CHECK ((holder IS NULL) = (locked_until IS NULL))
      ) STRICT;
    `,
  },
  {
    version: 15,
    name: 'rotation progress (AWS four steps)',
    // The step an AWS Secrets Manager rotation reached, so a run killed
    // between two steps is completed by the next: JSON {step, pending, from}
    // (the AWSPENDING VersionId and the AWSCURRENT VersionId read under the
    // lock; never a value). Cleared with pending_version on success.
    sql: `
      ALTER TABLE rotations ADD COLUMN progress TEXT;
    `,
  },
];
