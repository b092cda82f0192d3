// Front-end fixes through the whole workflow in real headless Chromium (Lighthouse 12, mobile): an app
// with the optimization middleware polling the settings the workflow writes; image variants that
// cut the page's bytes are applied, measured by interleaved Lighthouse runs and kept, then rolled
// back on request (the original served again); a deferred script that changes nothing is measured
// and rolled back by itself; a rewrite that matches nothing on the page is rolled back unmeasured.
// (Each measured action is 10 Lighthouse runs, ~1.5 min: the page rewrites' other edits are
// tested in the middleware's tests, their verdicts in frontend.test.ts, all of them in bench/frontend.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import sharp from 'sharp';
import { SqliteStore } from '../../src/store/sqlite.js';
import { optimizationMiddleware, type OptimizationMiddleware } from '../../src/optimize/middleware.js';
import { readSettings } from '../../src/optimize/settings.js';
import { rollback, type ActionSpec } from '../../src/optimize/actions.js';
import { runOptimization } from '../../src/optimize/workflow.js';
import { MEASURE_DEFAULTS, type MeasureOptions } from '../../src/optimize/measure.js';
import { parseScenario } from '../../src/loadtest/scenario.js';

const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const skip = fs.existsSync(CHROME) ? false : `Chromium not found at ${CHROME}: apt-get install -y chromium, or set CHROME_PATH`;
if (skip) console.warn(`# skipping the front-end workflow tests: ${skip}`);

let store: SqliteStore;
let server: http.Server;
let mw: OptimizationMiddleware;
let target: string;
let dir: string;
const PHOTOS = 4;

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-frontend-'));
  store = new SqliteStore(':memory:');
  await store.migrate();
  // 600 px photos with grain, shown at most 360 CSS px wide
  const size = 600;
  const px = new Uint8Array(size * size * 3);
  let seed = 11;
  for (let i = 0; i < px.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    px[i] = ((i % (size * 3)) * 60) / (size * 3) + ((seed >>> 25) & 63);
  }
  const photo = await sharp(Buffer.from(px.buffer), { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
  mw = optimizationMiddleware({ source: { get: () => readSettings(store), intervalMs: 100 }, images: { dir } });
  const app = express();
  app.use(mw);
  app.get('/img/:id.png', (_req, res) => res.type('png').send(photo));
  app.get('/tiny.js', (_req, res) => res.type('application/javascript').send('window.tiny = 1;'));
  app.get('/p/:id', (_req, res) =>
    res.type('html').send(`<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>Shoe</title><style>img{width:100%;max-width:360px;height:auto}</style><script src="/tiny.js"></script></head><body><h1>Trail runner</h1>${Array.from({ length: PHOTOS }, (_, i) => `<img src="/img/${i}.png" alt="shoe ${i}" width="600" height="600">`).join('')}</body></html>`),
  );
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  if (skip) return;
  mw.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

const measure = (): MeasureOptions => ({ ...MEASURE_DEFAULTS, target, scenario: parseScenario('name: page\nroutes:\n  - { path: /p/1 }\n'), lighthouseRuns: 5, settingsTimeoutMs: 5000 });
const run = (action: ActionSpec) => runOptimization(action, { ctx: { store }, measure: measure(), recommendation: { id: '', title: action.type, routes: [] } });
const photoOf = async (accept: string) => {
  const res = await fetch(`${target}/img/1.png`, { headers: { accept } });
  return { type: res.headers.get('content-type'), bytes: (await res.arrayBuffer()).byteLength };
};

test('image variants: applied, proven by 5 + 5 Lighthouse runs (bytes and LCP), kept; rolled back, the originals again', { skip }, async () => {
  const original = await photoOf('image/avif,image/webp,*/*');
  const r = await run({ type: 'image-variants', params: { route: '/img/:id.png', width: 400, formats: ['avif', 'webp'] }, pages: [`${target}/p/1`], probe: '/img/0.png' });
  assert.equal(r.state, 'kept', r.reason);
  assert.equal(r.objective, 'page-load');
  const pl = r.pageLoad!;
  assert.equal(pl.before.lcpMs.length, 5);
  assert.equal(pl.after.lcpMs.length, 5);
  assert.equal(pl.bytes.verdict, 'improved');
  assert.ok(pl.bytes.currentMedian < pl.bytes.baselineMedian / 3, `bytes ${pl.bytes.baselineMedian} → ${pl.bytes.currentMedian}`);
  assert.ok(pl.lcp.currentMedian < pl.lcp.baselineMedian, `LCP ${pl.lcp.baselineMedian} → ${pl.lcp.currentMedian}`);
  const variant = await photoOf('image/avif,image/webp,*/*');
  assert.equal(variant.type, 'image/avif');
  assert.ok(variant.bytes < original.bytes / 5);
  assert.equal((await readSettings(store)).entries.filter((e) => e.type === 'image-variants' && e.enabled).length, 1);
  // rolled back on request: the entry leaves the settings and the app serves the PNG again
  await rollback(r.undo!, { store });
  await mw.refresh();
  assert.equal((await readSettings(store)).entries.length, 0);
  assert.deepEqual(await photoOf('image/avif,image/webp,*/*'), original);
});

test('a deferred script that changes nothing: measured, not significantly better, rolled back; a rewrite that matches nothing: rolled back unmeasured', { skip }, async () => {
  const r = await run({ type: 'page-rewrite', params: { route: '/p/:id', deferScripts: ['/tiny.js'] }, pages: [`${target}/p/1`] });
  assert.equal(r.state, 'rolled_back', r.reason);
  assert.equal(r.pageLoad?.before.lcpMs.length, 5, 'it was measured');
  assert.match(r.reason!, /significantly lower|significantly worse/);
  assert.equal((await readSettings(store)).entries.length, 0);
  assert.doesNotMatch(await (await fetch(`${target}/p/1`)).text(), /defer/);

  const none = await run({ type: 'page-rewrite', params: { route: '/p/:id', deferScripts: ['/no-such.js'] }, pages: [`${target}/p/1`] });
  assert.equal(none.state, 'rolled_back');
  assert.match(none.reason!, /no page of \/p\/:id changed/);
  assert.equal(none.pageLoad, undefined, 'not measured');
});

