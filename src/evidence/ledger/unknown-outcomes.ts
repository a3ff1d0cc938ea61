import type Database from 'better-sqlite3';
import { unimplemented } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { Store } from '../../store/store';
import type { EvidenceDraft, EvidenceSink } from './evidence-sink';
import type { OpenIntent, OpenIntentIndex } from './open-intents';
import { SqliteOpenIntents } from './sqlite-open-intents';

/*
 * Invariant 3's "the outcome follows as invoke.result, or as invoke.unknown
 * when a crash hid it". Invoke appends `invoke.intent` durably before it
 * sends and `invoke.result` after. A crash (or a log that cannot be written
 * when the result comes back) can leave an intent without its result. At the
 * next start, after the ledger opened and before the server listens, every
 * such intent gets an `invoke.unknown` entry, durably.
 *
 * Finding them stays cheap for large logs: the store keeps a small index of
 * open intents (lease id + use number → intent index) in the same transaction
 * as the entries (sqlite-open-intents.ts), so start-up reads only the calls
 * that were in flight, never the whole log. An intent is settled by an
 * `invoke.result` or `invoke.unknown` entry with the same `lease.id` and
 * `lease.use`.
 */

/** Drafts appended per batch at start-up (a crash under load leaves at most the calls in flight). */
const PAGE = 256;

interface IntentFields {
  agent?: unknown;
  action?: unknown;
  resource?: unknown;
  idempotency_key?: unknown;
}

/** The `invoke.unknown` entry that settles `intent`. */
export function unknownDraft(intent: OpenIntent): EvidenceDraft {
  let fields: IntentFields = {};
  try {
    fields = JSON.parse(intent.entry.toString('utf8')) as IntentFields;
  } catch {
    // The entry is canonical JSON; if it somehow is not, the unknown entry still names the lease and use.
  }
  const str = (v: unknown): v is string => typeof v === 'string';
  return {
    type: 'invoke.unknown',
    ...(str(fields.agent) ? { agent: fields.agent } : {}),
    ...(str(fields.action) ? { action: fields.action } : {}),
    ...(str(fields.resource) ? { resource: fields.resource } : {}),
    lease: { id: intent.leaseId, use: intent.use },
    intent: { index: intent.index },
    ...(str(fields.idempotency_key) ? { idempotency_key: fields.idempotency_key } : {}),
    reason: 'no outcome was recorded before the broker stopped; the call may or may not have reached the upstream',
  };
}

/**
 * Appends `invoke.unknown` for every open intent and resolves once they are
 * durable. Returns how many were recorded. Run it while nothing else can
 * append an intent (at start-up, before serving).
 */
export async function recordUnknownOutcomes(opts: { index: OpenIntentIndex; evidence: EvidenceSink; log?: Logger }): Promise<number> {
  let after = -1;
  let count = 0;
  for (;;) {
    const page = await opts.index.open(after, PAGE);
    if (page.length === 0) break;
    await opts.evidence.append(page.map(unknownDraft));
    count += page.length;
    after = page[page.length - 1]!.index;
  }
  if (count > 0) {
    opts.log?.warn({ count }, 'recorded invoke.unknown for brokered calls whose outcome was lost when the broker stopped');
  }
  return count;
}

/** The open-intents index of the store the ledger writes to. */
export async function openIntentIndexFor(store: Store): Promise<OpenIntentIndex> {
  const s = store as Store & { db?: Database.Database };
  if (store.kind === 'sqlite' && s.db) return SqliteOpenIntents.of(s.db);
  throw unimplemented('the evidence log on this state store', 'a later issue');
}

/**
 * The start-up step: settles every open intent (the index is schema
 * migration 5's) with `invoke.unknown`. Call after the ledger opened, before serving.
 */
export async function settleOpenIntents(opts: { store: Store; evidence: EvidenceSink; log?: Logger }): Promise<number> {
  const index = await openIntentIndexFor(opts.store);
  return recordUnknownOutcomes({ index, evidence: opts.evidence, ...(opts.log ? { log: opts.log } : {}) });
}
