// npm run demo: the performance server, the SoleMate shop (instrumented, embedded PostgreSQL unless
// DATABASE_URL is set) and a gentle traffic generator, so the dashboard and the API show live data
// within seconds. The server is set up to optimize the shop (target, scenario, database), so the
// dashboard's Optimizations page can apply a recommendation. Ctrl-C stops everything.
//   SHOP_PRODUCTS (100000), SHOP_FAULTS (all), REDIS_URL, DEMO_RATE (requests/s, default 5)
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { runPhase } from '../../src/loadtest/runner.js';
import { loadScenario } from '../../src/loadtest/scenario.js';
import { createServer } from '../../src/server/app.js';
import { parseFaults } from './src/faults.js';
import { startShop } from './src/shop.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (m: string) => console.error(`[demo] ${m}`);

/** The preferred port when it is free, else any free one. */
async function port(preferred: number): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => {
      const any = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (any.address() as net.AddressInfo).port;
        any.close(() => resolve(p));
      });
    });
    s.listen(preferred, '127.0.0.1', () => s.close(() => resolve(preferred)));
  });
}

// the shop first (its SDK buffers until the server is up), so the server can be told its database
const serverPort = await port(4318);
const faults = parseFaults(process.env.SHOP_FAULTS);
const shop = await startShop({
  port: await port(3000),
  databaseUrl: process.env.DATABASE_URL,
  redisUrl: process.env.REDIS_URL,
  faults,
  products: Number(process.env.SHOP_PRODUCTS ?? 100_000),
  endpoint: `http://127.0.0.1:${serverPort}`,
  interval: 5_000,
  log: (m) => log(`shop: ${m}`),
});
const scenarioFile = path.join(here, 'scenarios', 'shop.yml');
const config = loadConfig({ env: process.env, overrides: { server: { port: serverPort }, optimization: { target: shop.url, scenario: scenarioFile, databaseUrl: shop.databaseUrl } } });
const server = await createServer({ config, env: process.env, logLevel: 'warn' });
log(`performance server at ${server.url} (store: ${config.store.kind === 'sqlite' ? config.store.path : 'PostgreSQL'})`);
log(`SoleMate shop at ${shop.url} — faults on: ${Object.entries(faults).filter(([, on]) => on).map(([n]) => n).join(', ') || 'none'}`);

console.log(`
  Shop:                 ${shop.url}
  Dashboard:            ${server.url}/
  Metrics API:          ${server.url}/api/metrics?service=solemate-shop
  Slowest traces:       ${server.url}/api/traces?service=solemate-shop
  Prometheus:           ${server.url}/metrics
  Traffic:              ${Number(process.env.DEMO_RATE ?? 5)} requests/s from examples/solemate-shop/scenarios/shop.yml
  Ctrl-C stops the demo.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  await shop.close().catch((e) => log(`shop: ${(e as Error).message}`));
  await server.close().catch(() => {});
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

// gentle traffic in one-minute phases until stopped
const scenario = loadScenario(scenarioFile);
const rate = Number(process.env.DEMO_RATE ?? 5);
while (!stopping) {
  const r = await runPhase({ target: shop.url, scenario, duration: 60, connections: 2, rate });
  if (!stopping) log(`traffic: ${r.requests} requests in the last minute, ${r.failed} failed`);
}
