// Issue #26's page-load target on the demo shop's product page, Lighthouse mobile (simulated slow 4G,
// 4× CPU slowdown): LCP before > 4 s, after < 2 s, bytes transferred ≥ 60% less. Three shops on one
// PostgreSQL, in one run:
//   before  — every fault on (1,200 px PNGs shown at ~350 CSS px, eager images below the fold, one
//             render-blocking bundle in <head>, no cache headers, no compression);
//   after   — the same shop after the optimizer: the front-end fixes Lighthouse finds
//             (optimize/frontend.ts), each applied and proven by interleaved Lighthouse runs, and
//             compression, proven by its load-test workflow — every one through the middleware;
//   by hand — the rival: the same shop with its front-end faults fixed in the code (images 300 px,
//             lazy below the fold, split and deferred bundle, immutable caching, compression).
// Each measured with N Lighthouse runs (default 5) of the same product page; the medians compared.
//   node --import tsx bench/frontend.ts [runs=5]     (DATABASE_URL: use that PostgreSQL, else embedded)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { runLighthouse, type LighthouseRun } from '../src/lab/lighthouse.js';
import { loadScenario } from '../src/loadtest/scenario.js';
import { OptimizationService } from '../src/optimize/service.js';
import { QueryEngine } from '../src/query/engine.js';
import { createServer } from '../src/server/app.js';
import { parseFaults } from '../examples/solemate-shop/src/faults.js';
import { startShop } from '../examples/solemate-shop/src/shop.js';
import { machine, median, save, table } from './lib.js';

const RUNS = Number(process.argv[2] ?? 5);
const PRODUCT = 42;
const log = (m: string) => process.stderr.write(`[frontend ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-frontend-bench-'));
const config = loadConfig({ env: {}, overrides: { server: { port: 0 }, store: { path: path.join(dir, 'perf.db') }, monitoring: { interval: 2000 } } });
const server = await createServer({ config, env: {}, logLevel: 'warn' });
const databaseUrl = process.env.DATABASE_URL;
// the server-side faults stay on in both (one database: the same indexes); only the front end differs
const before = await startShop({ port: 0, databaseUrl, dataDir: path.join(dir, 'pg'), faults: parseFaults('all'), products: 20_000, endpoint: server.url, interval: 2000, log: (m) => log(`shop: ${m}`) });
const byHand = await startShop({ port: 0, databaseUrl: before.databaseUrl, faults: parseFaults('missingIndex,nPlusOne,uncachedFacets'), products: 20_000, instrument: false, log: (m) => log(`hand-fixed shop: ${m}`) });

interface Side {
  name: string;
  runs: LighthouseRun[];
}
const lab = async (name: string, url: string): Promise<Side> => {
  log(`${name}: ${RUNS} Lighthouse runs of ${url}`);
  return { name, runs: await runLighthouse([url], { runs: RUNS, preset: 'mobile' }) };
};
const page = (shop: { url: string }) => `${shop.url}/products/${PRODUCT}`;

try {
  const sides: Side[] = [await lab('before', page(before)), await lab('by hand', page(byHand))];
  const service = new OptimizationService({
    store: server.store,
    engine: new QueryEngine(server.store, config),
    windowMs: 600_000,
    target: before.url,
    scenario: { ...loadScenario(path.join(import.meta.dirname, '../examples/solemate-shop/scenarios/shop.yml')), target: before.url },
    measure: { seconds: 5, rounds: 3, rate: 20, workers: 1, lighthouseRuns: RUNS },
    log,
  });
  const fixes = await service.frontendFixes(page(before), { runs: 3 });
  for (const f of fixes) log(`fix: ${f.title} — ${f.derivedFrom}`);
  const results = await service.applyOptimizations([{ action: { type: 'compression', params: { threshold: 1024, brotli: true } }, title: 'compression' }, ...fixes.map((f) => ({ action: f.action, title: f.title }))]);
  for (const r of results) log(`${r.state}: ${r.title} — ${r.reason ?? r.events.at(-1)?.message ?? ''}`);
  await service.close();
  sides.splice(1, 0, await lab('after (ours)', page(before)));

  const lcp = (s: Side) => median(s.runs.map((r) => r.metrics.largestContentfulPaint ?? NaN));
  const bytes = (s: Side) => median(s.runs.map((r) => r.audits['total-byte-weight']?.numericValue ?? NaN));
  const score = (s: Side) => median(s.runs.map((r) => (r.categories.performance ?? NaN) * 100));
  const b0 = bytes(sides[0]);
  const rows = sides.map((s) => [s.name, Math.round(lcp(s)).toLocaleString('en-US'), s.runs.map((r) => Math.round(r.metrics.largestContentfulPaint ?? 0)).join(', '), Math.round(bytes(s) / 1024).toLocaleString('en-US'), s === sides[0] ? '—' : `${(((bytes(s) - b0) / b0) * 100).toFixed(1)}%`, Math.round(score(s))]);
  const out = `bench/frontend.ts — ${new Date().toISOString()}; ${RUNS} Lighthouse ${sides[0].runs[0]?.lighthouseVersion} runs (mobile) of /products/${PRODUCT} per shop; ${machine()}\n\n${table(['shop', 'LCP ms (median)', 'LCP by run', 'KiB transferred (median)', 'bytes vs before', 'performance score'], rows)}\n\nfixes: ${results.map((r) => `${r.state} ${r.title}`).join('; ')}\n`;
  console.log(out);
  save('frontend', { runs: RUNS, sides: sides.map((s) => ({ name: s.name, lcp: s.runs.map((r) => r.metrics.largestContentfulPaint), bytes: s.runs.map((r) => r.audits['total-byte-weight']?.numericValue), score: s.runs.map((r) => r.categories.performance) })), results: results.map((r) => ({ title: r.title, state: r.state, reason: r.reason, pageLoad: r.pageLoad })) });
} finally {
  await byHand.close();
  await before.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
