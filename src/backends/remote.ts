import { openAwsBackend } from './aws';
import type { OpenedBackend, RemoteBackendFactories } from './registry';
import { openVaultBackend } from './vault';

/** The remote backend kinds this build opens (the composition root's default). */
export const remoteBackendFactories: RemoteBackendFactories = Object.freeze({
  vault: (cfg, deps): OpenedBackend => openVaultBackend(cfg, deps),
  aws: (cfg, deps): OpenedBackend => {
    const b = openAwsBackend(cfg, deps);
    return { static: b, health: () => b.health(), close: () => b.close() };
  },
} satisfies RemoteBackendFactories);
