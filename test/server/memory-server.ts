// Performance servers on in-memory stores for a test file: `const start = memoryServers()` at the
// top; each start(env, config) listens on a free port, and all are closed after the file's tests.
import { after } from 'node:test';
import { createServer, type PerformanceServer, type ServerOptions } from '../../src/server/app.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { testConfig } from '../helpers.js';
import type { PerformanceConfig } from '../../src/config/schema.js';

export function memoryServers(): (env?: NodeJS.ProcessEnv, config?: PerformanceConfig, more?: Pick<ServerOptions, 'clock'>) => Promise<PerformanceServer> {
  const servers: PerformanceServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));
  return async (env = {}, config = testConfig(), more = {}) => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const s = await createServer({ ...more, config, store, env });
    servers.push(s);
    return s;
  };
}
