// npm run shop:optimize — the optimization loop on the demo shop, end to end, as docs/optimization.md
// reports it: a performance server (fresh store), the shop (faults from SHOP_FAULTS, default all;
// embedded PostgreSQL unless DATABASE_URL), traffic from scenarios/shop.yml to fill the store,
// analyze → recommendations, then every automatic recommendation applied, measured and kept or
// rolled back, then an index nobody needs (to show the roll-back), then the front end: Lighthouse
// on a product page, and each fix it finds (image variants, lazy images, deferred scripts, sizes,
// cache lifetimes) applied and proven by interleaved Lighthouse runs; then the history.
//   SHOP_FAULTS (all) · SHOP_PRODUCTS (100000) · TRAFFIC_SECONDS (60) · TRAFFIC_RATE (25)
//   MEASURE_SECONDS (8) · MEASURE_ROUNDS (3) · MEASURE_RATE (40) · RESULTS (file for the JSON)
//   APPROVE_STALE_CACHES (/api/facets): GET routes whose answers may be up to a cache TTL old after
//   writes — the operator's policy, given to the analysis as optimization.analyzers.cacheable-routes
//   .staleOk, which makes such a cache automatic; empty for none
//   FRONTEND (1): 0 leaves the front end out; without Chromium (/usr/bin/chromium or CHROME_PATH) it is left out, said so
//   LIGHTHOUSE_RUNS (5): runs of each setting per front-end fix
// With DATABASE_URL the shop runs in its own process, as in production (the performance server and
// the load generator stay here); without it, in this process on the embedded PostgreSQL.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { runPhase } from '../../src/loadtest/runner.js';
import { loadScenario } from '../../src/loadtest/scenario.js';
import { createServer } from '../../src/server/app.js';
import { QueryEngine } from '../../src/query/engine.js';
import { OptimizationService } from '../../src/optimize/service.js';
import { p95Text } from '../../src/optimize/measure.js';
import { chromePath } from '../../src/lab/lighthouse.js';
import { parseFaults } from './src/faults.js';
import { startShop } from './src/shop.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const log = (m: string) => console.error(`[optimize] ${m}`);
const env = (k: string, d: number) => Number(process.env[k] ?? d);

const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'solemate-optimize-'));
const config = loadConfig({ env: {}, overrides: { server: { port: 0 }, store: { path: path.join(dir, 'perf.db') }, monitoring: { interval: 2000 } } });
const server = await createServer({ config, env: {}, logLevel: 'warn' });
const faults = parseFaults(process.env.SHOP_FAULTS);
/** The shop in a child process (needs DATABASE_URL): its URL from its first line of output. */
async function shopProcess(databaseUrl: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'src', 'main.ts')], { env: { ...process.env, PORT: '0', DATABASE_URL: databaseUrl, SOLEMATE_PERF_ENDPOINT: server.url, SHOP_INTERVAL: '2000' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`shop exited with ${c}`)));
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
  });
  return { url, databaseUrl, close: () => new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGTERM'))) };
}
const shop = process.env.DATABASE_URL ? await shopProcess(process.env.DATABASE_URL) : await startShop({ port: 0, dataDir: path.join(dir, 'shop-pg'), faults, products: env('SHOP_PRODUCTS', 100_000), endpoint: server.url, interval: 2000, log: (m) => log(`shop: ${m}`) });
log(`shop at ${shop.url}, performance server at ${server.url}; faults: ${Object.entries(faults).filter(([, on]) => on).map(([n]) => n).join(', ') || 'none'}`);

try {
  const scenario = { ...loadScenario(path.join(here, 'scenarios', 'shop.yml')), target: shop.url };
  const seconds = env('TRAFFIC_SECONDS', 60);
  log(`traffic: ${seconds} s at ${env('TRAFFIC_RATE', 25)} requests/s of ${scenario.source}`);
  const traffic = await runPhase({ target: shop.url, scenario, duration: seconds, connections: 4, rate: env('TRAFFIC_RATE', 25) });
  log(`traffic: ${traffic.requests} requests, ${traffic.failed} failed`);
  await new Promise((r) => setTimeout(r, 5000)); // the last SDK export and collector run

  const service = new OptimizationService({
    store: server.store,
    engine: new QueryEngine(server.store, config),
    windowMs: (seconds + 30) * 1000,
    databaseUrl: shop.databaseUrl,
    site: `${shop.url}/`,
    target: shop.url,
    scenario,
    // the load generator in its own thread (the performance server, and without DATABASE_URL the shop, run in this one)
    measure: { seconds: env('MEASURE_SECONDS', 8), rounds: env('MEASURE_ROUNDS', 3), rate: env('MEASURE_RATE', 40), workers: 1, lighthouseRuns: env('LIGHTHOUSE_RUNS', 5) },
    // the operator's call on caches whose answers may be out of date after writes: facet counts a
    // minute old are fine here (the fixed shop caches them for 60 s itself), stock on a page is not
    analyzerOptions: { 'cacheable-routes': { staleOk: process.env.APPROVE_STALE_CACHES ?? '/api/facets' } },
    log,
  });
  const analysis = await service.analyzePerformance();
  console.log(`\nAnalyzers: ${analysis.results.map((r) => `${r.id} ${r.status}${r.reason ? ` (${r.reason})` : ''}`).join('; ')}`);
  const recs = await service.getOptimizationRecommendations();
  console.log('\nRecommendations:');
  for (const r of recs) console.log(`${String(r.priority).padStart(2)}. ${r.severity.padEnd(8)} ${r.automatic ? 'auto  ' : 'manual'} ${r.title} [${r.analyzer}]`);
  for (const r of recs.filter((x) => x.approval)) log(`${r.title}: ${r.approval}`);
  const results = await service.applyOptimizations(recs.filter((r) => r.automatic));
  // an index no query filters on: the workflow must roll it back by itself
  if (process.env.SHOP_FAULTS !== 'none') results.push(await service.applyOptimization({ action: { type: 'create-index', table: 'orders', columns: ['status'] }, title: 'index orders (status), which no query filters on' }));
  // the front end, as a phone on a slow network sees a product page
  let chrome: string | undefined;
  try {
    chrome = process.env.FRONTEND === '0' ? undefined : chromePath();
  } catch (e) {
    log(`front end left out: ${(e as Error).message}`);
  }
  if (chrome) {
    const page = `${shop.url}/products/${env('PRODUCT_ID', 42)}`;
    log(`front end: Lighthouse (mobile) on ${page}`);
    const fixes = await service.frontendFixes(page, { runs: 3 });
    console.log('\nFront-end fixes:');
    for (const f of fixes) console.log(`    ${f.title}\n            ${f.derivedFrom}`);
    results.push(...(await service.applyOptimizations(fixes.map((f) => ({ action: f.action, title: f.title })))));
  }
  const history = await service.history();
  console.log('\nOptimizations:');
  for (const r of results) {
    const p95 = r.before && r.after ? ` ${p95Text(r)}` : '';
    console.log(`${r.state.padEnd(11)} ${r.title}${p95}\n            ${r.events.at(-1)?.message ?? r.reason ?? ''}`);
    for (const x of r.perRoute ?? []) console.log(`            ${x.route}: p95 ${x.beforeP95.toFixed(1)} → ${x.afterP95.toFixed(1)} ms (${x.factor.toFixed(1)}×)`);
    if (r.pageLoad) console.log(`            LCP by run: before ${r.pageLoad.before.lcpMs.map((v) => Math.round(v)).join(', ')} ms; after ${r.pageLoad.after.lcpMs.map((v) => Math.round(v)).join(', ')} ms`);
  }
  const s = history.successRate;
  console.log(`\nsuccess rate: ${s.kept} kept of ${s.applied} applied${s.rate === undefined ? '' : ` (${(s.rate * 100).toFixed(0)}%)`}`);
  if (process.env.RESULTS) fs.writeFileSync(process.env.RESULTS, JSON.stringify({ faults, analyzers: analysis.results, recommendations: recs, results, successRate: s }, null, 2));
  await service.close();
} finally {
  await shop.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
