#!/usr/bin/env node
// Screenshots of every dashboard page into docs/screenshots/, from a running server (the demo:
// `npm run demo`, then a few minutes of traffic). Uses playwright-core with the system Chromium
// (playwright gives each launch a fresh profile).
//   node scripts/screenshots.mjs [http://127.0.0.1:4318] [out-dir]
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:4318';
const out = process.argv[3] ?? 'docs/screenshots';
const chrome = process.env.CHROME_PATH ?? '/usr/bin/chromium';
fs.mkdirSync(out, { recursive: true });

const browser = await chromium.launch({ executablePath: chrome, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
const routes = await (await fetch(`${base}/api/routes?from=-1h`)).json();
const route = routes.routes?.[0]?.route;
const traces = route ? await (await fetch(`${base}/api/traces?route=${encodeURIComponent(route)}&limit=1&from=-1h`)).json() : { traces: [] };
const runs = await (await fetch(`${base}/api/loadtests?limit=20`)).json();
// the newest stress run (its capacity curve) against the stress run before it, else the newest load run
const byProfile = (p) => runs.runs?.filter((r) => r.profile === p) ?? [];
const [run, baseline] = byProfile('stress').length ? byProfile('stress') : byProfile('load');

const pages = [
  ['overview', '/?range=1h'],
  ['routes', route ? `/routes?range=1h&route=${encodeURIComponent(route)}${traces.traces[0] ? `&trace=${traces.traces[0].traceId}` : ''}` : '/routes?range=1h'],
  ['database', '/database?range=1h'],
  ['trends', '/trends?metric=http.server.request.duration&period=1h&statistic=p95'],
  ['alerts', '/alerts'],
  ['optimizations', '/optimizations'],
  ['loadtests', `/loadtests${run ? `?run=${run.id}${baseline ? `&baseline=${baseline.id}` : ''}` : ''}`],
  ['dashboard-monitoring', '/dashboards/monitoring?range=1h'],
];
for (const theme of ['light', 'dark']) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme: theme });
  const page = await context.newPage();
  for (const [name, p] of theme === 'dark' ? pages.slice(0, 1) : pages) {
    await page.goto(base + p);
    await page.waitForSelector('main h1');
    await page.waitForTimeout(3000);
    const file = path.join(out, `${name}${theme === 'dark' ? '-dark' : ''}.png`);
    await page.screenshot({ path: file, fullPage: true });
    console.log(file);
  }
  await context.close();
}
await browser.close();
