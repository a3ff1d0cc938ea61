import { byteSizeField } from './byte-size';
import type { Section } from './problems';
import type { PolicyConfig } from './config-types';

/** The decision cache's default bound: 16 MiB. */
export const DEFAULT_POLICY_CACHE_BYTES = 16 * 1024 * 1024;
/** Above this the bound is surely a typo (and the cache would hold more than the whole daemon needs). */
const MAX_POLICY_CACHE_BYTES = 4 * 1024 * 1024 * 1024;

/** The `policy:` section (how decisions are made, beside `policies:`, where they are written). */
export function policySection(s: Section | undefined): PolicyConfig {
  if (!s) return { cacheBytes: DEFAULT_POLICY_CACHE_BYTES };
  const cacheBytes = byteSizeField(s, 'cache_bytes', { min: 0, max: MAX_POLICY_CACHE_BYTES, fallback: DEFAULT_POLICY_CACHE_BYTES, note: 'up to 4GiB; 0 turns the cache off' });
  s.done();
  return { cacheBytes };
}
