// Lighthouse on the dashboard's overview page (issue 6: performance score ≥ 95; the accessibility
// score covers contrast, labels and keyboard names), beside the
// Prometheus web UI's graph page (Debian package prometheus, scraping this server) in the same run:
// Lighthouse 12 with the system Chromium, mobile (its default: simulated slow 4G and 4× CPU
// slowdown) and desktop presets, median of N runs each. The server holds an hour of data for eight
// routes, so the charts have something to draw.
//   node --import tsx bench/lighthouse.ts [runs=3]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn } from 'node:child_process';
import lighthouse from 'lighthouse';
import * as chromeLauncher from 'chrome-launcher';
import { createServer } from '../src/server/app.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { loadConfig } from '../src/config/load.js';
import { ExpHistogram } from '../src/model/histogram.js';
import type { MetricPoint } from '../src/model/metrics.js';
import { fmt, machine, median, save, table } from './lib.js';

const RUNS = Number(process.argv[2] ?? 3);
const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';

function point(metric: string, attributes: Record<string, string>, time: number, values: number[], unit = 's'): MetricPoint {
  const h = new ExpHistogram();
  for (const v of values) h.record(v);
  return { metric, kind: 'histogram', unit, service: 'shop', instance: 'a', attributes, startTime: time - 60_000, time, count: h.count, sum: h.sum, min: h.min, max: h.max, last: 0, hist: h.toData() };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const store = new SqliteStore(':memory:');
await store.migrate();
const now = Date.now();
const routes = ['/', '/products/:id', '/api/products', '/api/facets', '/api/cart/items', '/api/checkout', '/api/customers/:id/orders', '/api/products/:id'];
const points: MetricPoint[] = [];
for (let m = 60; m >= 1; m--) {
  routes.forEach((route, i) => {
    const values = Array.from({ length: 60 }, (_, k) => (0.002 + i * 0.004) * (1 + ((k * 7919) % 100) / 100));
    points.push(point('http.server.request.duration', { 'http.route': route, 'http.request.method': 'GET', 'http.response.status_code': '200' }, now - m * 60_000, values));
  });
  points.push({ metric: 'process.cpu.utilization', kind: 'gauge', unit: '1', service: 'shop', instance: 'a', attributes: {}, startTime: now - m * 60_000 - 60_000, time: now - m * 60_000, count: 1, sum: 0.3, min: 0.3, max: 0.3, last: 0.3 });
}
await store.write(points);
const server = await createServer({ config: loadConfig({ env: {}, overrides: { server: { port: 0 } } }), store, env: {} });

// the rival: Prometheus's own UI, scraping this server
let promUrl: string | undefined;
let prom: ReturnType<typeof spawn> | undefined;
const promDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prom-'));
try {
  const port = await freePort();
  fs.writeFileSync(path.join(promDir, 'prometheus.yml'), `global: { scrape_interval: 5s }\nscrape_configs:\n  - job_name: solemate\n    static_configs: [{ targets: ['${new URL(server.url).host}'] }]\n`);
  prom = spawn('prometheus', [`--config.file=${promDir}/prometheus.yml`, `--storage.tsdb.path=${promDir}/data`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  prom.on('error', () => {});
  for (let i = 0; i < 50 && !promUrl; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const ok = await fetch(`http://127.0.0.1:${port}/-/ready`).then((r) => r.ok, () => false);
    if (ok) promUrl = `http://127.0.0.1:${port}/graph?g0.expr=rate(http_server_request_duration_seconds_count%5B1m%5D)&g0.tab=0`;
  }
} catch {
  promUrl = undefined;
}
if (!promUrl) console.error('# Prometheus not available (apt-get install -y prometheus): only the dashboard is measured');

const chrome = await chromeLauncher.launch({ chromePath: CHROME, chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
type Scores = { score: number; accessibility: number; fcp: number; lcp: number; tbt: number; cls: number; bytes: number };
async function audit(url: string, preset: 'mobile' | 'desktop'): Promise<Scores> {
  const config = preset === 'desktop' ? (await import('lighthouse/core/config/desktop-config.js')).default : undefined;
  const r = await lighthouse(url, { port: chrome.port, output: 'json', logLevel: 'error', onlyCategories: ['performance', 'accessibility'] }, config);
  const lhr = r!.lhr;
  const a = (id: string) => lhr.audits[id]?.numericValue ?? NaN;
  return { score: Math.round((lhr.categories.performance.score ?? 0) * 100), accessibility: Math.round((lhr.categories.accessibility.score ?? 0) * 100), fcp: a('first-contentful-paint'), lcp: a('largest-contentful-paint'), tbt: a('total-blocking-time'), cls: a('cumulative-layout-shift'), bytes: a('total-byte-weight') };
}

const targets: [string, string][] = [['SoleMate dashboard, overview', `${server.url}/?range=1h`]];
if (promUrl) targets.push(['Prometheus UI, graph page', promUrl]);
const rows: (string | number)[][] = [];
const result: Record<string, unknown> = {};
for (const preset of ['mobile', 'desktop'] as const) {
  for (const [name, url] of targets) {
    const runs: Scores[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await audit(url, preset));
    const med = (k: keyof Scores) => median(runs.map((x) => x[k]));
    result[`${name} ${preset}`] = runs;
    rows.push([name, preset, `${med('score')} (${runs.map((x) => x.score).join(', ')})`, med('accessibility'), fmt(med('fcp'), 0), fmt(med('lcp'), 0), fmt(med('tbt'), 0), fmt(med('cls'), 3), fmt(med('bytes') / 1024, 0)]);
  }
}
console.log(`Lighthouse ${(await import('lighthouse/package.json', { with: { type: 'json' } })).default.version}, ${machine()}, median of ${RUNS} runs\n`);
console.log(table(['page', 'preset', 'performance score (runs)', 'accessibility', 'FCP ms', 'LCP ms', 'TBT ms', 'CLS', 'KB transferred'], rows));
save('lighthouse', result);
await chrome.kill();
prom?.kill();
await server.close();
await store.close();
fs.rmSync(promDir, { recursive: true, force: true });
