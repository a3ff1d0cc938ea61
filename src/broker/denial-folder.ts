import { createHash } from 'node:crypto';
import type { EvidenceDraft, EvidenceRef, EvidenceSink } from '../evidence/ledger/evidence-sink';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/logger';

interface Window {
  agent: string;
  first: EvidenceRef;
  draft: EvidenceDraft;
  since: number;
  /** Denials after the first in this window, not yet written. */
  folded: number;
}

export interface DenialFolderOptions {
  sink: EvidenceSink;
  clock: Clock;
  log: Logger;
  /** How long identical denials fold into one entry. */
  windowMs?: number;
  /** Per-agent evidence budget for denials; past it, every further denial of that agent folds into one "flood" window. */
  bytesPerMinute: (agent: string) => number;
  maxWindows?: number;
  /** Told of every denial, folded or not (the broker's denial-burst trust signal). */
  onDenial?: (agent: string) => void;
}

/**
 * Bounded evidence for denials (invariant 8). The first denial of a kind is
 * written at once; identical ones for the same agent within the window are
 * only counted, and one `decision` entry with `folded_count` closes the
 * window. An agent over its evidence budget has all its denials folded into a
 * single window, so a flood from one agent cannot fill the disk. Grants are
 * never folded.
 */
export class DenialFolder {
  private readonly windows = new Map<string, Window>();
  private readonly spent = new Map<string, { minute: number; bytes: number }>();
  /** Windows whose first entry is being appended. */
  private readonly writing = new Map<string, Promise<EvidenceRef>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly windowMs: number;

  constructor(private readonly o: DenialFolderOptions) {
    this.windowMs = o.windowMs ?? 60_000;
  }

  start(): void {
    this.timer = setInterval(() => void this.flushExpired().catch((err: unknown) => this.o.log.warn({ err }, 'could not close denial windows')), Math.min(this.windowMs, 10_000));
    this.timer.unref();
  }

  /** Records one denial; resolves when the evidence that covers it is durable (or was already). */
  /** `denial: false` for a decision that is bounded the same way but is no denial (PENDING_APPROVAL): not told to onDenial. */
  async record(agent: string, draft: EvidenceDraft, opts: { denial?: boolean } = {}): Promise<EvidenceRef> {
    if (opts.denial !== false) this.o.onDenial?.(agent);
    const now = this.o.clock.now();
    const text = JSON.stringify(draft);
    const identical = `${agent}\0${createHash('sha256').update(text).digest('hex')}`;
    const open = this.windows.get(identical);
    if (open && now < open.since + this.windowMs) {
      open.folded++;
      return open.first;
    }
    // Only bytes actually written count against the agent's budget.
    const overBudget = this.spentBytes(agent, now) > this.o.bytesPerMinute(agent);
    // Denials and approval-pending decisions flood apart: a closing entry counts one kind only.
    const key = overBudget ? `${agent}\0flood${opts.denial === false ? '\0pending' : ''}` : identical;
    const w = this.windows.get(key);
    if (w && now < w.since + this.windowMs) {
      w.folded++;
      return w.first;
    }
    // The first of a window is being written: fold into it once it is (concurrent identical denials).
    const writing = this.writing.get(key);
    if (writing) {
      const first = await writing;
      const opened = this.windows.get(key);
      if (opened) opened.folded++;
      return first;
    }
    this.addSpent(agent, text.length, now);
    // Registered before the first await (closing the ended window included), so an identical
    // denial that arrives meanwhile folds into this one instead of writing a first entry of its own.
    const appended = (async (): Promise<EvidenceRef> => {
      if (w) await this.close(key, w, now);
      return (await this.o.sink.append([overBudget ? { ...draft, flood: true } : draft]))[0]!;
    })();
    this.writing.set(key, appended);
    let first: EvidenceRef;
    try {
      first = await appended;
    } finally {
      if (this.writing.get(key) === appended) this.writing.delete(key);
    }
    // The window keeps the draft without its inputs (up to 8 KiB each): the closing entry leaves them to the first.
    const { inputs: _inputs, ...kept } = draft;
    this.windows.set(key, { agent, first, draft: kept, since: now, folded: 0 });
    if (this.windows.size > (this.o.maxWindows ?? 10_000)) {
      const [oldKey, oldW] = this.windows.entries().next().value as [string, Window];
      await this.close(oldKey, oldW, now);
    }
    return first;
  }

  private spentBytes(agent: string, now: number): number {
    const s = this.spent.get(agent);
    return s && s.minute === Math.floor(now / 60_000) ? s.bytes : 0;
  }

  private addSpent(agent: string, bytes: number, now: number): void {
    const minute = Math.floor(now / 60_000);
    const s = this.spent.get(agent);
    this.spent.set(agent, { minute, bytes: (s && s.minute === minute ? s.bytes : 0) + bytes });
  }

  private async close(key: string, w: Window, now: number): Promise<void> {
    this.windows.delete(key);
    if (w.folded === 0) return;
    // The inputs are recorded once, on the first entry (first_index); a flood window folds different denials.
    await this.o.sink.append([
      {
        ...w.draft,
        ...(key.includes('\0flood') ? { flood: true } : {}),
        folded_count: w.folded,
        folded_since: new Date(w.since).toISOString(),
        folded_until: new Date(now).toISOString(),
        first_index: w.first.index,
      },
    ]);
  }

  /** Writes the count of every window that has ended. */
  async flushExpired(): Promise<void> {
    const now = this.o.clock.now();
    for (const [key, w] of [...this.windows]) if (now >= w.since + this.windowMs) await this.close(key, w, now);
  }

  /** Writes every open window's count (at shutdown nothing is lost). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const now = this.o.clock.now();
    for (const [key, w] of [...this.windows]) await this.close(key, w, now);
  }
}
