// The shop on its own:  node --import tsx examples/solemate-shop/src/main.ts
// Environment: PORT (3000), DATABASE_URL (else embedded PostgreSQL in .data/shop-pg), REDIS_URL,
// SHOP_FAULTS (all | none | list), SHOP_PRODUCTS (100000), SHOP_INSTRUMENT (1 | 0), SHOP_TRACING (1 | 0),
// SHOP_OPTIMIZE (1 | 0: the optimization middleware), SHOP_INTERVAL (ms between SDK exports, 10000),
// SOLEMATE_PERF_ENDPOINT (http://127.0.0.1:4318).
import { parseFaults } from './faults.js';
import { startShop, type RunningShop } from './shop.js';

const log = (m: string) => console.error(`[shop] ${m}`);
// a signal stops the shop, or during start-up (seeding can take a while) aborts it: startShop then
// stops what it has started, the embedded PostgreSQL included
const aborted = new AbortController();
let shop: RunningShop | undefined;
const stop = () => (shop ? void shop.close().then(() => process.exit(0)) : aborted.abort());
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  shop = await startShop({
    port: Number(process.env.PORT ?? 3000),
    databaseUrl: process.env.DATABASE_URL,
    redisUrl: process.env.REDIS_URL,
    faults: parseFaults(process.env.SHOP_FAULTS),
    products: Number(process.env.SHOP_PRODUCTS ?? 100_000),
    instrument: process.env.SHOP_INSTRUMENT !== '0',
    tracing: process.env.SHOP_TRACING !== '0',
    optimize: process.env.SHOP_OPTIMIZE !== '0',
    endpoint: process.env.SOLEMATE_PERF_ENDPOINT,
    interval: process.env.SHOP_INTERVAL === undefined ? undefined : Number(process.env.SHOP_INTERVAL),
    log,
    signal: aborted.signal,
  });
  console.log(shop.url);
  log(`SoleMate shop at ${shop.url}`);
} catch (e) {
  log(aborted.signal.aborted ? 'stopped during start-up' : `cannot start: ${(e as Error).message}`);
  process.exit(aborted.signal.aborted ? 0 : 1);
}
