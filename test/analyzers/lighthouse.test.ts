// The front-end analyzer on a browser's view: a stored Lighthouse run's failing opportunities with
// Lighthouse's estimated savings, real users' LCP on the page as the stake, and the optimizer reading
// the stored run instead of the fetched page (whose analyzers label their findings fetch-only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAnalyzers } from '../../src/analyzers/runner.js';
import { lighthouseAudits } from '../../src/analyzers/lighthouse.js';
import { RumAggregator } from '../../src/ingest/rum.js';
import type { LighthouseRun } from '../../src/lab/lighthouse.js';
import { storedLighthouse } from '../../src/optimize/service.js';
import { QueryEngine } from '../../src/query/engine.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { testConfig } from '../helpers.js';

const SITE = 'http://127.0.0.1:3000/products/42';
function run(lcp: number, fcp: number, tti: number, revision: string): LighthouseRun & { revision: string; storedAt: number } {
  return {
    url: SITE,
    finalUrl: SITE,
    fetchTime: '2026-12-07T20:00:00.000Z',
    preset: 'mobile',
    lighthouseVersion: '12.8.2',
    categories: { performance: 0.42 },
    metrics: { largestContentfulPaint: lcp, firstContentfulPaint: fcp, interactive: tti },
    audits: {
      'uses-responsive-images': { score: 0, savingsMs: 1650, savingsBytes: 1_900_000 },
      'offscreen-images': { score: 0.5, savingsMs: 300, savingsBytes: 400_000 },
      'uses-text-compression': { score: 1, savingsMs: 0, savingsBytes: 0 },
      'total-byte-weight': { score: 0.4, numericValue: 3_200_000 },
      'render-blocking-resources': { score: 0.3, savingsMs: 900 },
      'unused-css-rules': { score: 0, savingsBytes: 9000 },
    },
    resources: {},
    revision,
    storedAt: Date.parse('2026-12-07T20:00:00Z'),
  };
}

test('failing opportunities become findings with Lighthouse\'s savings and the users\' stake', async () => {
  const out = await lighthouseAudits.analyze({ lighthouse: { run: run(5200, 1800, 6000, 'a'), runs: 3, page: '/products/:id', rumP75LcpMs: 4870, rumPageViews: 1200 } }, { maxScore: 0.9, criticalMs: 1000 });
  assert.ok(Array.isArray(out));
  const by = Object.fromEntries(out.map((f) => [f.target.audit, f]));
  assert.deepEqual(Object.keys(by).sort(), ['offscreen-images', 'render-blocking-resources', 'total-byte-weight', 'uses-responsive-images'], 'passed audits and unread ones are left out');
  assert.equal(by['uses-responsive-images'].severity, 'critical');
  assert.equal(by['uses-responsive-images'].impact.estimate, 1650);
  assert.match(by['uses-responsive-images'].impact.derivedFrom, /Lighthouse 12\.8\.2's estimate in the representative of 3 mobile runs .* real users' p75 LCP on \/products\/:id: 4870 ms over 1200 page views/);
  assert.match(by['uses-responsive-images'].title, /Properly size images \(uses-responsive-images, ~1650 ms, ~1855 KiB\)/);
  assert.equal(by['total-byte-weight'].impact.unit, 'KiB');
  assert.equal(by['total-byte-weight'].impact.estimate, 3125);
  assert.equal(by['offscreen-images'].severity, 'warning');
});

test('unused JavaScript names its scripts and, from their source maps, the modules worth splitting out', async () => {
  const r = run(5200, 1800, 6000, 'a');
  r.audits['unused-javascript'] = { score: 0, savingsMs: 1200, savingsBytes: 560_000, items: [{ url: 'http://127.0.0.1:3000/assets/bundle.js', totalBytes: 700_000, wastedBytes: 560_000, modules: 'src/carousel.js 180/190 KiB unused; src/analytics.js 150/160 KiB unused' }] };
  const out = await lighthouseAudits.analyze({ lighthouse: { run: r, runs: 3, page: '/products/:id' } }, { maxScore: 0.9, criticalMs: 1000 });
  assert.ok(Array.isArray(out));
  const f = out.find((x) => x.target.audit === 'unused-javascript')!;
  assert.equal(f.evidence.rows[0].detail, 'http://127.0.0.1:3000/assets/bundle.js: 547 of 684 KiB unused (src/carousel.js 180/190 KiB unused; src/analytics.js 150/160 KiB unused)');
  assert.ok(f.evidence.headings.some((h) => h.key === 'detail'));
});

test('the optimizer reads the newest revision\'s representative run and the users\' LCP on that page', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const older = { ...run(9000, 3000, 9000, 'old'), storedAt: Date.now() - 7_200_000 };
  await store.putDoc('lighthouse', 'o', older as unknown as Record<string, unknown>);
  for (const [i, r] of [run(5000, 1700, 6100, 'new'), run(5300, 1800, 6000, 'new'), run(7000, 2600, 8000, 'new')].entries()) await store.putDoc('lighthouse', `n${i}`, { ...r, storedAt: Date.now() - 1000 + i } as unknown as Record<string, unknown>);
  const agg = new RumAggregator({ metricsPerBeacon: 10, pages: 10, services: 5, targets: 5, valueLength: 100 }, [], Date.now() - 60_000);
  for (let i = 0; i < 20; i++) agg.add({ v: 1, url: `http://127.0.0.1:3000/products/${i}`, metrics: [{ name: 'LCP', value: 3000 + i * 100 }], device: { viewport: 390 } });
  await store.write(agg.flush(Date.now() - 1000));
  const engine = new QueryEngine(store, testConfig());
  const lab = await storedLighthouse(store, engine, SITE);
  assert.ok(lab);
  assert.equal(lab.runs, 3, 'the newest revision only');
  assert.equal(lab.run.metrics.largestContentfulPaint, 5300, 'closest to the median FCP and TTI');
  assert.equal(lab.page, '/products/:id');
  assert.equal(lab.rumPageViews, 20);
  assert.ok(Math.abs(lab.rumP75LcpMs! - 4400) <= 4400 * 0.0055, String(lab.rumP75LcpMs));
  // with it, the fetch-only analyzers are not run, and say why
  const results = await runAnalyzers({ lighthouse: async () => lab }, {});
  const site = results.filter((r) => ['compression', 'cache-headers', 'images', 'bundle'].includes(r.id));
  assert.ok(site.every((r) => r.status === 'not_applicable' && /stored Lighthouse run is read instead/.test(r.reason ?? '')), JSON.stringify(site.map((r) => r.reason)));
  assert.equal(results.find((r) => r.id === 'lighthouse')?.status, 'findings');
  await store.close();
});
