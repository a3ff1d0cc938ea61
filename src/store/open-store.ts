import type { BrokerConfig } from '../config/config-types';
import { unimplemented } from '../lib/errors';
import { SqliteStore } from './sqlite/sqlite-store';
import type { Store } from './store';

/** Opens the configured state store, for the daemon (which holds the state's lock until the store closes). */
export async function openStore(config: Pick<BrokerConfig, 'state'>): Promise<Store> {
  if (config.state.kind === 'sqlite') return new SqliteStore({ path: config.state.path, exclusive: true });
  throw unimplemented('the PostgreSQL state store', 'a later issue');
}
