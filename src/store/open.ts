import type { PerformanceConfig } from '../config/schema.js';
import type { Store } from './store.js';

/** Opens and migrates the configured store; the PostgreSQL driver loads only when used. */
export async function openStore(config: PerformanceConfig): Promise<Store> {
  let store: Store;
  if (config.store.kind === 'postgres') {
    const { PostgresStore } = await import('./postgres.js');
    store = new PostgresStore(config.store.url as string);
  } else {
    const { SqliteStore } = await import('./sqlite.js');
    store = new SqliteStore(config.store.path);
  }
  await store.migrate();
  return store;
}
