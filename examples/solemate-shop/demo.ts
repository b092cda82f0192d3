// npm run demo: the performance server, the SoleMate shop (instrumented, embedded PostgreSQL unless
// DATABASE_URL is set) and a gentle traffic generator, so the dashboard and the API show live data
// within seconds, and headless Chromium (when installed) visits the shop's pages so its real-user Web
// Vitals reach the Frontend page. The server is set up to optimize the shop (target, scenario, database), so the
// dashboard's Optimizations page can apply a recommendation. Ctrl-C stops everything, also during
// start-up; a second demo in the same directory says where the first one is instead of starting.
//   SHOP_PRODUCTS (100000), SHOP_FAULTS (all), REDIS_URL, DEMO_RATE (requests/s, default 5)
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { runPhase } from '../../src/loadtest/runner.js';
import { loadScenario } from '../../src/loadtest/scenario.js';
import { createServer } from '../../src/server/app.js';
import { parseFaults } from './src/faults.js';
import { startShop, type RunningShop } from './src/shop.js';
import { startVisitors, type Visitors } from './src/visitors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (m: string) => console.error(`[demo] ${m}`);
const scenarioFile = path.join(here, 'scenarios', 'shop.yml');
const rate = Number(process.env.DEMO_RATE ?? 5);

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

// One demo per data directory (.data under the working directory, like the shop's and the store's
// data): a Unix socket there answers with the running demo's pid and dashboard. It goes with its
// process, so a killed demo blocks nothing (a pid file could name a pid reused since).
type Running = { pid: number; dashboard?: string };
/** Listens on the demo's socket, or returns what the demo already listening there answers. */
async function claim(file: string, info: () => Running): Promise<net.Server | Running> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lock = net.createServer((c) => c.end(JSON.stringify(info())));
  for (;;) {
    const failed = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      lock.once('error', resolve);
      lock.listen(file, () => {
        lock.off('error', resolve);
        resolve(undefined);
      });
    });
    if (!failed) return lock;
    if (failed.code !== 'EADDRINUSE') throw failed;
    const answer = await new Promise<string | undefined>((resolve) => {
      let text = '';
      const c = net.connect(file).setEncoding('utf8');
      c.on('data', (d: string) => (text += d)).once('end', () => resolve(text)).once('error', () => resolve(undefined));
    });
    if (answer !== undefined) return JSON.parse(answer) as Running;
    fs.rmSync(file, { force: true }); // left by a demo that was killed: nobody answers
  }
}

let shop: RunningShop | undefined;
let server: Awaited<ReturnType<typeof createServer>> | undefined;
let visitors: Visitors | undefined;
const claimed = await claim(path.join('.data', 'demo.sock'), () => ({ pid: process.pid, dashboard: server && `${server.url}/` }));
if (!(claimed instanceof net.Server)) {
  log(`a demo is already running here (pid ${claimed.pid}, ${claimed.dashboard ? `dashboard at ${claimed.dashboard}` : 'still starting'}); stop it with Ctrl-C there or kill ${claimed.pid}`);
  process.exit(1);
}
const lock = claimed;

const aborted = new AbortController();
const starting = start();
let stopping: Promise<void> | undefined;
/** Stops what has started, whichever way the demo ends: Ctrl-C, SIGTERM, a failed start, a crash. */
function stop(code: number): Promise<void> {
  return (stopping ??= (async () => {
    log('stopping…');
    aborted.abort(); // a start-up under way stops what it has started (the embedded PostgreSQL too) and fails
    await starting.catch(() => {});
    await visitors?.stop();
    await shop?.close().catch((e: Error) => log(`shop: ${e.message}`));
    await server?.close().catch(() => {});
    lock.close();
    process.exit(code);
  })());
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
process.once('uncaughtException', (e) => {
  log(`failed: ${e.stack ?? e.message}`);
  void stop(1);
});

// the shop first (its SDK buffers until the server is up), so the server can be told its database
async function start() {
  const serverPort = await port(4318);
  const faults = parseFaults(process.env.SHOP_FAULTS);
  shop = await startShop({
    port: await port(3000),
    databaseUrl: process.env.DATABASE_URL,
    redisUrl: process.env.REDIS_URL,
    faults,
    products: Number(process.env.SHOP_PRODUCTS ?? 100_000),
    endpoint: `http://127.0.0.1:${serverPort}`,
    interval: 5_000,
    log: (m) => log(`shop: ${m}`),
    signal: aborted.signal,
  });
  const config = loadConfig({ env: process.env, overrides: { server: { port: serverPort }, optimization: { target: shop.url, scenario: scenarioFile, databaseUrl: shop.databaseUrl } } });
  server = await createServer({ config, env: process.env, logLevel: 'warn' });
  if (stopping) return;
  log(`performance server at ${server.url} (store: ${config.store.kind === 'sqlite' ? config.store.path : 'PostgreSQL'})`);
  log(`SoleMate shop at ${shop.url} — faults on: ${Object.entries(faults).filter(([, on]) => on).map(([n]) => n).join(', ') || 'none'}`);

  console.log(`
  Shop:                 ${shop.url}
  Dashboard:            ${server.url}/
  Metrics API:          ${server.url}/api/metrics?service=solemate-shop
  Slowest traces:       ${server.url}/api/traces?service=solemate-shop
  Prometheus:           ${server.url}/metrics
  Real-user vitals:     ${server.url}/frontend
  Traffic:              ${rate} requests/s from examples/solemate-shop/scenarios/shop.yml
  Ctrl-C stops the demo.
`);
  // a few real page views in headless Chromium: the shop's pages report their Web Vitals
  visitors = await startVisitors({ shopUrl: shop.url, products: Number(process.env.SHOP_PRODUCTS ?? 100_000), log });
}

try {
  await starting;
} catch (e) {
  if (!stopping) log(`cannot start: ${(e as Error).message}`);
  await stop(1);
}

// gentle traffic in one-minute phases until stopped
const scenario = loadScenario(scenarioFile);
while (!stopping) {
  const r = await runPhase({ target: shop!.url, scenario, duration: 60, connections: 2, rate });
  if (!stopping) log(`traffic: ${r.requests} requests in the last minute, ${r.failed} failed`);
}
