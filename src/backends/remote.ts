import type { RemoteBackendFactories } from './registry';

/** The remote backend kinds this build opens (the composition root's default). */
export const remoteBackendFactories: RemoteBackendFactories = Object.freeze({});
