// Real-user beacons: the whole-beacon check, page templates, device classes, and the merge into
// histograms with its caps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BeaconError, deviceOf, OTHER, pageTemplate, readBeacon, RumAggregator, type RumLimits } from '../../src/ingest/rum.js';

const LIMITS: RumLimits = { metricsPerBeacon: 10, pages: 3, services: 2, targets: 2, valueLength: 200 };
const beacon = (extra: Record<string, unknown> = {}) => ({ v: 1, url: 'https://shop.example/products/42?ref=mail#top', metrics: [{ name: 'LCP', value: 2300, rating: 'good', delta: 2300, id: 'v5-1', navigationType: 'navigate', attribution: { target: 'main>img.hero', url: 'https://cdn.example/hero.png?w=2400', timeToFirstByte: 120, lcpEntry: { huge: true } } }], device: { viewport: 390, userAgent: 'Mozilla/5.0 (iPhone)' }, ...extra });

test('a beacon is read whole or refused whole, with the reason', () => {
  const b = readBeacon(JSON.stringify(beacon({ nav: { loadTime: 1800.5, transferBytes: 420_000, resources: 12 } })), LIMITS);
  assert.equal(b.metrics[0].value, 2300);
  assert.equal(b.metrics[0].attribution?.target, 'main>img.hero');
  assert.equal(b.nav?.loadTime, 1800.5);
  const refused: [string, RegExp, 'bad_json' | 'bad_beacon'][] = [
    ['{"v":1,', /not JSON/, 'bad_json'],
    ['[]', /JSON object/, 'bad_beacon'],
    [JSON.stringify(beacon({ v: 2 })), /v must be 1/, 'bad_beacon'],
    [JSON.stringify(beacon({ url: 'javascript:alert(1)' })), /url must be the page URL/, 'bad_beacon'],
    [JSON.stringify(beacon({ service: '<img onerror>' })), /service must be/, 'bad_beacon'],
    [JSON.stringify(beacon({ metrics: [{ name: 'FID', value: 3 }] })), /metric name must be one of LCP, INP, CLS, FCP, TTFB/, 'bad_beacon'],
    [JSON.stringify(beacon({ metrics: [{ name: 'toString', value: 3 }] })), /metric name must be one of/, 'bad_beacon'],
    [JSON.stringify(beacon({ metrics: [{ name: 'LCP', value: 3, attribution: 'img' }] })), /LCP attribution must be an object/, 'bad_beacon'],
    [JSON.stringify(beacon({ device: 'phone' })), /device must be an object/, 'bad_beacon'],
    [JSON.stringify(beacon({ metrics: [{ name: 'LCP', value: -1 }] })), /LCP value must be a number from 0 to 3600000/, 'bad_beacon'],
    [JSON.stringify(beacon({ metrics: [{ name: 'CLS', value: 1e9 }] })), /CLS value must be a number from 0 to 100/, 'bad_beacon'],
    [JSON.stringify(beacon({ metrics: Array.from({ length: 11 }, () => ({ name: 'CLS', value: 0 })) })), /more than 10 metrics/, 'bad_beacon'],
    [JSON.stringify(beacon({ nav: { loadTime: 'soon' } })), /nav.loadTime must be a number/, 'bad_beacon'],
    [JSON.stringify(beacon({ metrics: [] })), /no metrics and no nav/, 'bad_beacon'],
    // one good metric and one bad: the whole beacon is refused
    [JSON.stringify(beacon({ metrics: [{ name: 'LCP', value: 1 }, { name: 'INP', value: Infinity }] })), /INP value/, 'bad_beacon'],
  ];
  for (const [text, message, reason] of refused) {
    assert.throws(() => readBeacon(text, LIMITS), (e: unknown) => e instanceof BeaconError && e.reason === reason && message.test(e.message), text.slice(0, 60));
  }
});

test('page templates: configured patterns first, then id-like segments; no query string, no fragment', () => {
  const patterns = ['/category/:slug', '/blog/*'];
  const cases: [string, string][] = [
    ['https://s.example/products/42?ref=mail#top', '/products/:id'],
    ['https://s.example/category/running-shoes', '/category/:slug'],
    ['https://s.example/blog/2026/12/fast-pages', '/blog/*'],
    ['https://s.example/orders/3f2a9c1e-7b44-4c1e-9d2a-0a1b2c3d4e5f/items', '/orders/:id/items'],
    ['https://s.example/u/a81bc9f0e1d2c3b4', '/u/:id'],
    ['https://s.example/p/trail-runner-2049', '/p/:id'],
    ['https://s.example/cart', '/cart'],
    ['https://s.example/', '/'],
    ['https://s.example/about-us', '/about-us'],
  ];
  for (const [url, template] of cases) assert.equal(pageTemplate(url, patterns), template, url);
});

test('device: by viewport (mobile < 768 ≤ tablet < 1024 ≤ desktop), else by user agent', () => {
  assert.equal(deviceOf({ viewport: 390 }), 'mobile');
  assert.equal(deviceOf({ viewport: 800 }), 'tablet');
  assert.equal(deviceOf({ viewport: 1440 }), 'desktop');
  assert.equal(deviceOf({ userAgent: 'Mozilla/5.0 (Linux; Android 14) Mobile' }), 'mobile');
  assert.equal(deviceOf({ userAgent: 'Mozilla/5.0 (iPad; CPU OS 17_0)' }), 'tablet');
  assert.equal(deviceOf(undefined), 'desktop');
});

test('beacons merge into one histogram per service, page, device and metric; flush empties it', () => {
  const agg = new RumAggregator(LIMITS, [], 1000);
  for (let i = 0; i < 8; i++) agg.add(readBeacon(JSON.stringify(beacon({ url: `https://s.example/products/${i}`, metrics: [{ name: 'LCP', value: 1000 + i * 500, attribution: { target: 'img.hero', url: 'https://cdn.example/hero.png?x=1' } }, { name: 'CLS', value: 0 }], nav: { loadTime: 1500 + i * 100, transferBytes: 100_000 } })), LIMITS));
  const points = agg.flush(61_000);
  const lcp = points.find((p) => p.metric === 'browser.web_vitals.lcp')!;
  assert.deepEqual(lcp.attributes, { page: '/products/:id', device: 'mobile' });
  assert.equal(lcp.count, 8);
  assert.equal(lcp.min, 1000);
  assert.equal(lcp.max, 4500);
  assert.equal(lcp.service, 'web');
  assert.equal([lcp.startTime, lcp.time].join(), '1000,61000');
  const cls = points.find((p) => p.metric === 'browser.web_vitals.cls')!;
  assert.equal(cls.count, 8);
  assert.equal(cls.sum, 0);
  const attributed = points.find((p) => p.metric === 'browser.web_vitals.attributed')!;
  assert.deepEqual(attributed.attributes, { page: '/products/:id', vital: 'LCP', target: 'img.hero', resource: 'https://cdn.example/hero.png' });
  assert.equal(points.find((p) => p.metric === 'browser.page.load_time')!.count, 8);
  assert.equal(points.length, 5, 'lcp, cls, attributed, load time, transfer size');
  assert.deepEqual(agg.flush(62_000), []);
});

test('past the caps: pages, services and attribution targets go to "(other)", counted', () => {
  const agg = new RumAggregator(LIMITS, [], 0);
  const add = (service: string, path: string, target = 'img') => agg.add(readBeacon(JSON.stringify(beacon({ service, url: `https://s.example${path}`, metrics: [{ name: 'INP', value: 100, attribution: { interactionTarget: target } }] })), LIMITS));
  for (const path of ['/a', '/b', '/c', '/d', '/e']) add('shop', path);
  for (const target of ['#x', '#y', '#z']) add('shop', '/a', target);
  add('blog', '/a');
  add('docs', '/a');
  const points = agg.flush(60_000);
  const pages = new Set(points.filter((p) => p.service === 'shop' && p.metric === 'browser.web_vitals.inp').map((p) => p.attributes.page));
  assert.deepEqual([...pages].sort(), ['(other)', '/a', '/b', '/c']);
  assert.equal(agg.counts.otherPages, 2);
  const targets = points.filter((p) => p.service === 'shop' && p.metric === 'browser.web_vitals.attributed' && p.attributes.page === '/a').map((p) => p.attributes.target);
  assert.deepEqual(targets.sort(), ['#x', OTHER, 'img'].sort());
  assert.deepEqual([...new Set(points.map((p) => p.service))].sort(), ['(other)', 'blog', 'shop']);
  assert.equal(agg.counts.otherServices, 1);
});
