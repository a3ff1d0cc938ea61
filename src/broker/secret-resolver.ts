import { openLocalBackend, type LocalSecretBackend } from '../backends/local';
import type { BrokerConfig } from '../config/config-types';
import type { Clock } from '../lib/clock';
import { BrokerError, unavailable } from '../lib/errors';
import type { SecretValue } from '../lib/secret-value';

/**
 * Resolves a configured secret name to its current value from its backend.
 * Backends open lazily, so a daemon whose sealed store is not created yet
 * still starts; a missing or broken backend makes the call UNAVAILABLE
 * (never a leak of backend text).
 */
export class SecretResolver {
  private readonly locals = new Map<string, Promise<LocalSecretBackend>>();

  constructor(private readonly deps: { config: Pick<BrokerConfig, 'secrets' | 'backends' | 'devMode'>; clock: Clock }) {}

  async resolve(secretName: string): Promise<SecretValue> {
    const s = this.deps.config.secrets[secretName];
    if (!s) throw new BrokerError('internal', `secret ${secretName} is not configured`);
    const b = this.deps.config.backends[s.backend];
    if (!b) throw new BrokerError('internal', `backend ${s.backend} is not configured`);
    if (b.kind !== 'local') throw new BrokerError('unimplemented', `backend kind ${b.kind} is not implemented yet`);
    let p = this.locals.get(b.name);
    if (!p) {
      p = openLocalBackend({ name: b.name, path: b.path, keyFile: b.keyFile, clock: this.deps.clock, allowInsecurePermissions: this.deps.config.devMode });
      this.locals.set(b.name, p);
      p.catch(() => this.locals.delete(b.name));
    }
    try {
      const backend = await p;
      return (await backend.get(s.ref)).value;
    } catch (cause) {
      if (cause instanceof BrokerError && cause.kind === 'invalid_argument') throw new BrokerError('internal', 'secret reference is invalid', { cause });
      throw unavailable(`secret backend ${b.name}`, cause);
    }
  }

  async close(): Promise<void> {
    for (const p of this.locals.values()) await p.then((b) => b.close()).catch(() => undefined);
    this.locals.clear();
  }
}
