import type { Clock } from '../lib/clock';
import { SecretValue } from '../lib/secret-value';
import type { SecretVersion } from './backend';

interface Entry {
  version: SecretVersion;
  expiresAt: number;
  secret: string;
}

export interface SecretCacheOptions {
  clock: Clock;
  /** Entries kept at most (least recently used goes first). */
  maxEntries?: number;
  /** Secret bytes kept at most. */
  maxBytes?: number;
}

/**
 * Static reads kept in memory (never on disk) for a backend's `cache_ttl`,
 * keyed per secret, version and field, bounded by entries and bytes. Values
 * are copies: `get` returns a fresh SecretValue the caller may wipe, and an
 * evicted or expired entry is wiped here.
 */
export class SecretCache {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  readonly #maxEntries: number;
  readonly #maxBytes: number;

  constructor(private readonly opts: SecretCacheOptions) {
    this.#maxEntries = opts.maxEntries ?? 1024;
    this.#maxBytes = opts.maxBytes ?? 4 * 1024 * 1024;
  }

  static key(secret: string, version: number | undefined, field: string | undefined): string {
    return `${SecretCache.keyPrefix(secret)}${version ?? 'current'}\0${field ?? ''}`;
  }

  /** What every key of one secret starts with. */
  static keyPrefix(secret: string): string {
    return `${secret}\0`;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): SecretVersion | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.opts.clock.now()) {
      this.#drop(key, e);
      return undefined;
    }
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return copy(e.version);
  }

  /** Keeps a copy of `version` for `ttlMs` (nothing when 0). */
  set(key: string, secret: string, version: SecretVersion, ttlMs: number): void {
    if (ttlMs <= 0 || version.value.length > this.#maxBytes) return;
    const old = this.#entries.get(key);
    if (old) this.#drop(key, old);
    const e: Entry = { version: copy(version), expiresAt: this.opts.clock.now() + ttlMs, secret };
    this.#entries.set(key, e);
    this.#bytes += e.version.value.length;
    for (const [k, v] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#drop(k, v);
    }
  }

  /** Drops every entry of one configured secret (rotation calls it). */
  invalidate(secret: string): void {
    for (const [k, v] of this.#entries) if (v.secret === secret) this.#drop(k, v);
  }

  clear(): void {
    for (const [k, v] of this.#entries) this.#drop(k, v);
  }

  #drop(key: string, e: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= e.version.value.length;
    e.version.value.wipe();
  }
}

function copy(v: SecretVersion): SecretVersion {
  const bytes = v.value.reveal();
  try {
    return { ...v, value: SecretValue.fromBytes(bytes) };
  } finally {
    bytes.fill(0);
  }
}
