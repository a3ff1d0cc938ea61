import { badRequest, notFound, rfc3339, type LogicalResponse } from './vault-http';

/**
 * KV version 2, one store per (namespace, mount): versioned secrets with
 * check-and-set, metadata, listing and soft delete, answering with the
 * bodies and errors documented at /api-docs/secret/kv/kv-v2.
 */

interface Version {
  readonly data: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  deletedAt: number | undefined;
  destroyed: boolean;
}

interface Entry {
  readonly versions: Map<number, Version>;
  currentVersion: number;
  readonly createdAt: number;
  updatedAt: number;
  customMetadata: Readonly<Record<string, string>> | null;
  casRequired: boolean;
}

export interface KvPutOptions {
  /** Check-and-set: the write succeeds only when this is the current version (0 = must not exist). */
  cas?: number;
}

export class KvStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number) {}

  private versionMeta(v: Version, n: number, custom: Entry['customMetadata']): Record<string, unknown> {
    return {
      created_time: rfc3339(v.createdAt),
      custom_metadata: custom,
      deletion_time: v.deletedAt === undefined ? '' : rfc3339(v.deletedAt),
      destroyed: v.destroyed,
      version: n,
    };
  }

  /** `POST|PUT <mount>/data/<path>` */
  put(path: string, data: unknown, options: KvPutOptions = {}): LogicalResponse {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw badRequest('no data provided');
    const e = this.entries.get(path);
    const current = e?.currentVersion ?? 0;
    if (options.cas !== undefined) {
      if (!Number.isInteger(options.cas) || options.cas < 0) throw badRequest('error parsing check-and-set parameter');
      // Vault: 400, not 412 (builtin/logical/kv path_data.go answers ErrInvalidRequest).
      if (options.cas !== current) throw badRequest('check-and-set parameter did not match the current version');
    } else if (e?.casRequired) {
      throw badRequest('check-and-set parameter required for this call');
    }
    const now = this.now();
    const entry: Entry = e ?? { versions: new Map(), currentVersion: 0, createdAt: now, updatedAt: now, customMetadata: null, casRequired: false };
    const n = entry.currentVersion + 1;
    const v: Version = { data: structuredClone(data as Record<string, unknown>), createdAt: now, deletedAt: undefined, destroyed: false };
    entry.versions.set(n, v);
    entry.currentVersion = n;
    entry.updatedAt = now;
    this.entries.set(path, entry);
    return { data: this.versionMeta(v, n, entry.customMetadata) };
  }

  /**
   * `GET <mount>/data/<path>[?version=N]`. Missing secret or version: 404
   * `{"errors":[]}`. A deleted or destroyed version: 404 with the metadata
   * and `data: null`, as Vault does.
   */
  get(path: string, versionRaw: string | null): { status: number; body: LogicalResponse } {
    const e = this.entries.get(path);
    if (!e) throw notFound();
    let n = e.currentVersion;
    if (versionRaw !== null && versionRaw !== '') {
      if (!/^\d+$/.test(versionRaw)) throw badRequest(`error converting input "${versionRaw}" for field "version"`);
      n = Number(versionRaw) || e.currentVersion;
    }
    const v = e.versions.get(n);
    if (!v) throw notFound();
    const metadata = this.versionMeta(v, n, e.customMetadata);
    if (v.deletedAt !== undefined || v.destroyed) return { status: 404, body: { data: { data: null, metadata } } };
    return { status: 200, body: { data: { data: structuredClone(v.data), metadata } } };
  }

  /** `DELETE <mount>/data/<path>`: soft-deletes the latest version. */
  deleteLatest(path: string): void {
    const e = this.entries.get(path);
    const v = e?.versions.get(e.currentVersion);
    if (v && v.deletedAt === undefined) v.deletedAt = this.now();
  }

  /** Soft-deletes given versions (admin helper, like `POST <mount>/delete/<path>`). */
  deleteVersions(path: string, versions: readonly number[]): void {
    const e = this.entries.get(path);
    for (const n of versions) {
      const v = e?.versions.get(n);
      if (v && v.deletedAt === undefined) v.deletedAt = this.now();
    }
  }

  /** Destroys given versions (like `PUT <mount>/destroy/<path>`). */
  destroyVersions(path: string, versions: readonly number[]): void {
    const e = this.entries.get(path);
    for (const n of versions) {
      const v = e?.versions.get(n);
      if (v) v.destroyed = true;
    }
  }

  setMetadata(path: string, m: { customMetadata?: Record<string, string>; casRequired?: boolean }): void {
    const e = this.entries.get(path);
    if (!e) throw new Error(`no secret at ${path}`);
    if (m.customMetadata) e.customMetadata = { ...m.customMetadata };
    if (m.casRequired !== undefined) e.casRequired = m.casRequired;
  }

  /** `GET <mount>/metadata/<path>` */
  metadata(path: string): LogicalResponse {
    const e = this.entries.get(path);
    if (!e) throw notFound();
    const versions: Record<string, unknown> = {};
    for (const [n, v] of [...e.versions.entries()].sort((a, b) => a[0] - b[0])) {
      versions[String(n)] = { created_time: rfc3339(v.createdAt), deletion_time: v.deletedAt === undefined ? '' : rfc3339(v.deletedAt), destroyed: v.destroyed };
    }
    return {
      data: {
        cas_required: e.casRequired,
        created_time: rfc3339(e.createdAt),
        current_version: e.currentVersion,
        custom_metadata: e.customMetadata,
        delete_version_after: '0s',
        max_versions: 0,
        oldest_version: Math.min(...e.versions.keys()),
        updated_time: rfc3339(e.updatedAt),
        versions,
      },
    };
  }

  /** `LIST <mount>/metadata/<prefix>`: immediate children, folders with a trailing `/`. 404 `{"errors":[]}` when none. */
  list(prefixRaw: string): LogicalResponse {
    const prefix = prefixRaw === '' || prefixRaw.endsWith('/') ? prefixRaw : `${prefixRaw}/`;
    const keys = new Set<string>();
    for (const p of this.entries.keys()) {
      if (!p.startsWith(prefix)) continue;
      const rest = p.slice(prefix.length);
      const slash = rest.indexOf('/');
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (keys.size === 0) throw notFound();
    return { data: { keys: [...keys].sort() } };
  }
}
