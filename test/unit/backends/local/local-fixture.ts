/** Shared setup for the local backend tests: a temp dir with a master key. */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { Clock } from '../../../../src/lib/clock';
import { systemClock } from '../../../../src/lib/clock';
import { BrokerError, type ErrorKind } from '../../../../src/lib/errors';
import { ensureMasterKey, openLocalBackend, type LocalBackendOptions, type LocalSecretBackend } from '../../../../src/backends/local';

export interface Fixture {
  dir: string;
  path: string;
  keyFile: string;
  open(extra?: Partial<LocalBackendOptions>): Promise<LocalSecretBackend>;
  cleanup(): Promise<void>;
}

export async function makeFixture(clock: Clock = systemClock): Promise<Fixture> {
  const dir = await fs.mkdtemp(join(tmpdir(), 'sb-local-'));
  const path = join(dir, 'var', 'secrets.sealed');
  const keyFile = join(dir, 'var', 'master.key');
  await ensureMasterKey(keyFile);
  const opened: LocalSecretBackend[] = [];
  return {
    dir,
    path,
    keyFile,
    async open(extra = {}) {
      const b = await openLocalBackend({ name: 'local', path, keyFile, clock, ...extra });
      opened.push(b);
      return b;
    },
    async cleanup() {
      await Promise.all(opened.map((b) => b.close()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** A distinctive plaintext, so a search for it cannot match by accident. */
export const uniqueSecret = (): string => `sb-plain-${randomBytes(12).toString('hex')}-value`;

/** Every encoding of `plain` that must never appear in a file or error. */
export function encodingsOf(plain: string): string[] {
  const raw = Buffer.from(plain, 'utf8');
  const forms = [plain, raw.toString('hex'), raw.toString('hex').toUpperCase()];
  // base64 of the value at each of the three alignments, with the edge characters dropped
  for (let offset = 0; offset < 3; offset++) {
    const shifted = Buffer.concat([Buffer.alloc(offset), raw]);
    for (const enc of ['base64', 'base64url'] as const) {
      const s = shifted.toString(enc);
      forms.push(s.slice(Math.ceil((offset * 4) / 3) + 1, -4));
    }
  }
  return forms;
}

export function assertNoLeak(haystack: string | Buffer, plain: string, what: string): void {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack;
  for (const form of encodingsOf(plain)) {
    if (text.includes(form)) throw new Error(`${what} contains the secret (as ${JSON.stringify(form)})`);
  }
}

/** Awaits `p`, expecting a BrokerError of `kind`; returns it for further checks. */
export async function expectBrokerError(p: Promise<unknown>, kind: ErrorKind, message?: RegExp): Promise<BrokerError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof BrokerError)) {
    throw new Error(`expected a BrokerError(${kind}), got ${caught === undefined ? 'success' : inspect(caught)}`);
  }
  if (caught.kind !== kind) throw new Error(`expected kind ${kind}, got ${caught.kind}: ${caught.message}`);
  if (message && !message.test(caught.message)) throw new Error(`message ${JSON.stringify(caught.message)} does not match ${message}`);
  return caught;
}

export async function readJson(path: string): Promise<Record<string, unknown> & { secrets: Record<string, Array<Record<string, unknown>>> }> {
  return JSON.parse(await fs.readFile(path, 'utf8'));
}
