// Front-end fixes from a Lighthouse run's audit rows and the page as served (optimize/frontend.ts),
// the image-header sizes they use, and the page-load verdict (optimize/page-load.ts) — without a
// browser: the run is written here as Lighthouse 12 reports those audits. The browser path (real
// Chromium, the workflow applying, measuring and rolling back) is test/optimize/frontend-chromium.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { frontendFixes, imageSize, urlTemplate } from '../../src/optimize/frontend.js';
import { verdict, type PageLoadSide } from '../../src/optimize/page-load.js';
import { compareLatencies } from '../../src/loadtest/statistics.js';
import type { LighthouseRun } from '../../src/lab/lighthouse.js';

const SITE = 'http://shop.test';
const PAGE = `${SITE}/products/42`;
const html = `<!doctype html><html><head><script src="/assets/bundle.js"></script></head><body>
<img src="/logo.svg" alt="">
<img src="/images/products/42.png" alt="shoe">
${[1, 2, 3, 4].map((i) => `<img src="/images/products/${i}.png" alt="">`).join('\n')}
</body></html>`;

function run(audits: LighthouseRun['audits']): LighthouseRun {
  return { url: PAGE, finalUrl: PAGE, fetchTime: '2026-12-07T00:00:00.000Z', preset: 'mobile', lighthouseVersion: '12.8.2', categories: { performance: 0.4 }, metrics: { largestContentfulPaint: 5200 }, audits, resources: {} };
}

const png = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#abc' } }).png().toBuffer();
const fetchBytes = async (url: string) => {
  if (url === PAGE) return Buffer.from(html);
  if (/\/images\/products\/\d+\.png$/.test(url)) return png;
  throw new Error(`unexpected fetch ${url}`);
};

test('urlTemplate: an id segment becomes :id, with its extension kept', () => {
  assert.equal(urlTemplate('/images/products/17.png'), '/images/products/:id.png');
  assert.equal(urlTemplate('/products/17'), '/products/:id');
  assert.equal(urlTemplate('/assets/app.js'), '/assets/app.js');
  assert.equal(urlTemplate('/v2/items'), '/v2/items', 'a segment that only starts with a letter stays');
});

test('imageSize reads PNG, JPEG, WebP and GIF headers; anything else is undefined', async () => {
  const base = sharp({ create: { width: 321, height: 123, channels: 3, background: '#123' } });
  for (const fmt of ['png', 'jpeg', 'webp', 'gif'] as const) assert.deepEqual(imageSize(await base.clone().toFormat(fmt).toBuffer()), { width: 321, height: 123 }, fmt);
  assert.deepEqual(imageSize(await base.clone().webp({ lossless: true }).toBuffer()), { width: 321, height: 123 }, 'lossless WebP (VP8L)');
  assert.equal(imageSize(Buffer.from('<svg/>')), undefined);
  assert.equal(imageSize(Buffer.alloc(0)), undefined);
});

test('each failing audit becomes its fix, with the parameters derived from its rows and the page', async () => {
  const fixes = await frontendFixes({
    page: PAGE,
    fetchBytes,
    run: run({
      // shown at 600×600 device px of 1200×1200: 75% of the pixels wasted
      'uses-responsive-images': { score: 0, items: [{ url: `${SITE}/images/products/42.png`, wastedPercent: 75, totalBytes: 2e6, wastedBytes: 1.5e6 }, ...[1, 2, 3, 4].map((i) => ({ url: `${SITE}/images/products/${i}.png`, wastedPercent: 84, totalBytes: 2e6, wastedBytes: 1.7e6 }))] },
      'modern-image-formats': { score: 0.2, items: [{ url: `${SITE}/images/products/42.png`, totalBytes: 2e6, wastedBytes: 1.8e6 }] },
      'offscreen-images': { score: 0.3, items: [{ url: `${SITE}/images/products/2.png` }, { url: `${SITE}/images/products/3.png` }] },
      'largest-contentful-paint-element': { score: 0, items: [{ snippet: '<img src="/images/products/42.png" alt="shoe">', selector: 'main > img' }] },
      'render-blocking-resources': { score: 0, savingsMs: 2100, items: [{ url: `${SITE}/assets/bundle.js`, totalBytes: 700_000, wastedMs: 2100 }] },
      'unused-javascript': { score: 0, items: [{ url: `${SITE}/assets/bundle.js`, totalBytes: 700_000, wastedBytes: 560_000, modules: 'src/carousel.js 180/190 KiB unused' }] },
      'unsized-images': { score: 0, items: [{ url: `${SITE}/images/products/1.png` }] },
      'uses-long-cache-ttl': { score: 0.1, items: [{ url: `${SITE}/assets/bundle.js`, cacheLifetimeMs: 0 }, { url: `${SITE}/assets/app.3f9a2c1d7e.js`, cacheLifetimeMs: 0 }, { url: 'https://cdn.elsewhere.test/x.js', cacheLifetimeMs: 0 }] },
    }),
  });
  const byType = (type: string) => fixes.filter((f) => f.action.type === type);
  const [images] = byType('image-variants');
  assert.deepEqual(images.action, { type: 'image-variants', params: { route: '/images/products/:id.png', width: 600, formats: ['avif', 'webp'] }, pages: [PAGE], probe: '/images/products/42.png' }, 'the widest shown: 1200 × √(1 − 0.75)');
  const rewrites = byType('page-rewrite').map((f) => f.action.type === 'page-rewrite' && f.action.params);
  assert.deepEqual(rewrites, [
    { route: '/products/:id', lazyFrom: 3, priorityImage: 1 },
    { route: '/products/:id', deferScripts: ['/assets/bundle.js'] },
    { route: '/products/:id', imageSizes: [{ src: '/images/products/:id.png', width: 1200, height: 1200 }] },
  ]);
  assert.match(byType('page-rewrite')[1].derivedFrom, /547 of 684 KiB of \/assets\/bundle\.js unused \(by its source map, worth splitting out: src\/carousel\.js 180\/190 KiB unused\)/);
  const caching = byType('cache-headers').map((f) => f.action.type === 'cache-headers' && f.action.params);
  assert.deepEqual(caching, [
    { paths: ['/assets/'], maxAgeSeconds: 31_536_000, immutable: true },
    { paths: ['/assets/'], maxAgeSeconds: 86_400, immutable: false },
  ], 'a year only for the fingerprinted name; another origin is not ours to cache');
});

test('an image of the template that Lighthouse does not list may be shown at full size: the variants keep the width', async () => {
  const fixes = await frontendFixes({
    page: PAGE,
    fetchBytes,
    run: run({
      'uses-responsive-images': { score: 0, items: [{ url: `${SITE}/images/products/1.png`, wastedPercent: 84 }] },
      'modern-image-formats': { score: 0, items: [{ url: `${SITE}/images/products/42.png` }] },
    }),
  });
  assert.deepEqual(fixes.map((f) => f.action.type === 'image-variants' && f.action.params), [{ route: '/images/products/:id.png', width: 1200, formats: ['avif', 'webp'] }]);
  const none = await frontendFixes({ page: PAGE, fetchBytes, run: run({ 'uses-responsive-images': { score: 0, items: [{ url: `${SITE}/images/products/1.png`, wastedPercent: 84 }] } }) });
  assert.deepEqual(none, [], 'no smaller width, no modern format: nothing to serve');
});

test('nothing to fix: passing audits, or a script that cannot be deferred safely, give no fix', async () => {
  const passing = await frontendFixes({ page: PAGE, fetchBytes, run: run({ 'uses-responsive-images': { score: 1, items: [{ url: `${SITE}/images/products/1.png`, wastedPercent: 5 }] }, 'render-blocking-resources': { score: 1, items: [] } }) });
  assert.deepEqual(passing, []);
  const inlineAfter = html.replace('</body>', '<script>window.bundleReady && bundleReady()</script></body>');
  const fixes = await frontendFixes({ page: PAGE, fetchBytes: async (u) => (u === PAGE ? Buffer.from(inlineAfter) : fetchBytes(u)), run: run({ 'render-blocking-resources': { score: 0, items: [{ url: `${SITE}/assets/bundle.js` }] } }) });
  assert.deepEqual(fixes, [], 'an inline script after it may use what it defines');
});

test('page-load verdict: kept on a significant gain in LCP, bytes or layout shift; rolled back on a loss past 1%, on no gain, or on new console errors', () => {
  const side = (lcpMs: number[], bytes: number[], consoleErrors = 0, cls = [0.2, 0.2, 0.2, 0.2, 0.2]): PageLoadSide => ({ lcpMs, bytes, cls, consoleErrors });
  const judge = (b: PageLoadSide, a: PageLoadSide) => verdict({ lcp: compareLatencies(b.lcpMs, a.lcpMs), bytes: compareLatencies(b.bytes, a.bytes), cls: compareLatencies(b.cls, a.cls) }, b, a, 5);
  const slow = side([5200, 5300, 5250, 5180, 5220], [4e6, 4e6, 4e6, 4e6, 4e6]);
  assert.equal(judge(slow, side([1800, 1850, 1790, 1820, 1810], [8e5, 8e5, 8e5, 8e5, 8e5])).kept, true);
  assert.equal(judge(slow, side([5210, 5190, 5230, 5240, 5200], [1e6, 1e6, 1e6, 1e6, 1e6])).kept, true, 'bytes alone');
  const same = judge(slow, side([5190, 5310, 5240, 5170, 5230], [4e6, 4e6, 4e6, 4e6, 4e6]));
  assert.equal(same.kept, false);
  assert.match(same.reason, /neither LCP, bytes nor layout shift significantly lower/);
  const worse = judge(slow, side([6200, 6300, 6250, 6180, 6220], [1e6, 1e6, 1e6, 1e6, 1e6]));
  assert.equal(worse.kept, false);
  assert.match(worse.reason, /LCP significantly worse/);
  const broken = judge(slow, side([1800, 1850, 1790, 1820, 1810], [8e5, 8e5, 8e5, 8e5, 8e5], 2));
  assert.equal(broken.kept, false);
  assert.match(broken.reason, /more console errors/);
  const tiny = judge(slow, side([5100, 5190, 5140, 5080, 5120], [4e6, 4e6, 4e6, 4e6, 4e6]));
  assert.equal(tiny.kept, false, 'significant but under the 5% a change must gain');
  const steady = side([5200, 5300, 5250, 5180, 5220], [4e6, 4e6, 4e6, 4e6, 4e6], 0, [0.7, 0.7, 0.7, 0.7, 0.7]);
  assert.equal(judge(steady, side([5210, 5190, 5230, 5240, 5200], [4.0004e6, 4.0004e6, 4.0004e6, 4.0004e6, 4.0004e6], 0, [0.01, 0.01, 0.01, 0.01, 0.01])).kept, true, 'layout shift alone, with a few bytes more (under 1%)');
  const heavier = judge(steady, side([5210, 5190, 5230, 5240, 5200], [4.2e6, 4.2e6, 4.2e6, 4.2e6, 4.2e6], 0, [0.01, 0.01, 0.01, 0.01, 0.01]));
  assert.equal(heavier.kept, false);
  assert.match(heavier.reason, /bytes transferred significantly worse/);
  // a page that did not shift at all and now does (its median % change is 0 from 0)
  const still = side([5200, 5300, 5250, 5180, 5220], [4e6, 4e6, 4e6, 4e6, 4e6], 0, [0, 0, 0, 0, 0]);
  const shifts = judge(still, side([4000, 4010, 3990, 4005, 3995], [4e6, 4e6, 4e6, 4e6, 4e6], 0, [0.29, 0.29, 0.29, 0.29, 0.29]));
  assert.equal(shifts.kept, false, 'a faster LCP does not buy a layout shift where there was none');
  assert.match(shifts.reason, /layout shift significantly worse/);
});
