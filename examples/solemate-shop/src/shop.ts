// Starts the shop: its database (DATABASE_URL or embedded), schema and seed, optional Redis, the
// SoleMate Performance SDK (unless instrument is false), and the HTTP server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createPerformanceService, type PerformanceService } from '../../../src/sdk/performance-service.js';
import { instrumentHttpServer } from '../../../src/instrument/node-http.js';
import { instrumentPg } from '../../../src/instrument/pg.js';
import { Cache, instrumentIoredis } from '../../../src/instrument/ioredis.js';
import { instrumentHttpClient } from '../../../src/instrument/http-client.js';
import { collectPostgres, recordPostgres } from '../../../src/collectors/postgres.js';
import { RedisCollector, recordRedis } from '../../../src/collectors/redis.js';
import { Recorder } from '../../../src/sdk/recorder.js';
import { optimizationMiddleware } from '../../../src/optimize/middleware.js';
import { createShopApp } from './app.js';
import { openDatabase, prepare } from './database.js';
import type { Faults } from './faults.js';

export interface ShopStartOptions {
  port?: number;
  host?: string;
  databaseUrl?: string;
  /** embedded PostgreSQL data directory (default .data/shop-pg) */
  dataDir?: string;
  redisUrl?: string;
  faults: Faults;
  products?: number;
  /** false: no SDK at all (the baseline for overhead benchmarks) */
  instrument?: boolean;
  /** false: metrics only, no request context or traces */
  tracing?: boolean;
  /** performance server to send to (default the SDK config: http://127.0.0.1:4318) */
  endpoint?: string;
  /** ms between SDK snapshots and collector runs */
  interval?: number;
  poolSize?: number;
  /** false: no optimization middleware (default: mounted when instrumented, polling the endpoint) */
  optimize?: boolean;
  log?: (m: string) => void;
  /** aborts the start-up: what has started is stopped (the embedded PostgreSQL too) and the start fails */
  signal?: AbortSignal;
}

export interface RunningShop {
  url: string;
  databaseUrl: string;
  perf: PerformanceService | undefined;
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function startShop(o: ShopStartOptions): Promise<RunningShop> {
  const log = o.log ?? (() => {});
  // what has started, undone last-first by close() — and by a start-up that fails or is aborted, so
  // that no PostgreSQL outlives it; close() drains whatever has been added since a previous call
  const started: (() => unknown)[] = [];
  let closing = false;
  let closed = Promise.resolve();
  const close = () =>
    (closed = closed.then(async () => {
      closing = true;
      for (let undo = started.pop(); undo; undo = started.pop()) await Promise.resolve().then(undo).catch((e: Error) => log(`closing: ${e.message}`));
    }));
  const abort = () => void close(); // e.g. Ctrl-C while seeding: the queries under way fail and so does the start
  o.signal?.addEventListener('abort', abort);
  try {
    const db = await openDatabase({ url: o.databaseUrl, dataDir: o.dataDir ?? '.data/shop-pg', log, signal: o.signal });
    started.push(() => db.stop());
    o.signal?.throwIfAborted();
    const seed = await prepare(db.url, o.faults, { products: o.products ?? 100_000, log });
    log(`database ready: ${seed.products.toLocaleString()} products${db.embedded ? ' (embedded PostgreSQL)' : ''}`);

    let perf: PerformanceService | undefined;
    if (o.instrument !== false) {
      const service = createPerformanceService({
        service: 'solemate-shop',
        config: { monitoring: { interval: o.interval ?? 10_000, tracing: { enabled: o.tracing !== false } }, sdk: { endpoint: o.endpoint ?? 'http://127.0.0.1:4318' } },
        handleSignals: false,
      });
      perf = service;
      started.push(() => service.shutdown(3000), instrumentPg(pg, service), instrumentIoredis(Redis, service), instrumentHttpClient(service));
    }
    const pool = new pg.Pool({ connectionString: db.url, max: o.poolSize ?? 10 });
    pool.on('error', (e) => closing || log(`database pool: ${e.message}`));
    started.push(() => pool.end());
    let redis: Redis | undefined;
    if (o.redisUrl) {
      const client = new Redis(o.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
      client.on('error', () => {});
      started.push(() => client.disconnect());
      await client.connect().catch((e: Error) => {
        throw new Error(`cannot connect to Redis (REDIS_URL): ${e.message}`);
      });
      redis = client;
    }
    const cache = redis ? new Cache(redis, perf ?? new Recorder({ onWarning: () => {} })) : memoryCache();
    // the optimizer's runtime settings (response caches, compression, cache headers, pool size), read
    // from the performance server: applying or rolling back one needs no restart
    const optimizer = perf && o.optimize !== false ? optimizationMiddleware({ source: { endpoint: o.endpoint ?? 'http://127.0.0.1:4318', intervalMs: 1000 }, redis, pools: { default: pool as unknown as { options: { max?: number } } } }) : undefined;
    if (optimizer) started.push(() => optimizer.close());
    // instrumented, its pages carry the server's real-user snippet too
    const rumScript = perf ? `${(o.endpoint ?? 'http://127.0.0.1:4318').replace(/\/$/, '')}/rum.js` : undefined;
    const app = createShopApp({ pool, redis, faults: o.faults, cache, first: optimizer, rumScript });

    // database and cache collectors, on the SDK's interval
    if (perf) {
      const recorder = perf.recorder;
      const redisCollector = redis ? new RedisCollector(redis) : undefined;
      const collect = async () => {
        try {
          recordPostgres(await collectPostgres(pool), recorder);
          if (redisCollector) recordRedis(await redisCollector.collect(), recorder);
        } catch (e) {
          if (!closing) log(`collector: ${(e as Error).message}`);
        }
      };
      const collecting = setInterval(() => void collect(), o.interval ?? 10_000);
      collecting.unref();
      started.push(() => clearInterval(collecting));
      void collect();
    }

    const server = http.createServer(app);
    // HTTP through Node's diagnostics channels, this server only (no middleware layer: docs/benchmarks.md)
    if (perf) started.push(instrumentHttpServer(perf, { servers: [server] }));
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 3000, o.host ?? '127.0.0.1', resolve);
    });
    started.push(() => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    });
    o.signal?.throwIfAborted();
    const { port } = server.address() as AddressInfo;
    return { url: `http://${o.host ?? '127.0.0.1'}:${port}`, databaseUrl: db.url, perf, pool, close };
  } catch (e) {
    await close();
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', abort);
  }
}

/** The facets cache without Redis: in-process, with expiry. */
function memoryCache() {
  const entries = new Map<string, { value: unknown; until: number }>();
  return {
    async getOrLoad<T>(key: string, load: () => Promise<T>, ttlMs = 60_000): Promise<T> {
      const e = entries.get(key);
      if (e && e.until > Date.now()) return e.value as T;
      const value = await load();
      entries.set(key, { value, until: Date.now() + ttlMs });
      return value;
    },
  };
}
