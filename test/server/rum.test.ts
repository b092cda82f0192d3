// POST /v1/rum over HTTP: accepted beacons come back from /api/rum as p75 and rating shares; every
// bad class gets its 4xx and its counter, and nothing of it is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { json, testConfig } from '../helpers.js';
import { memoryServers } from './memory-server.js';

const start = memoryServers();
const ORIGIN = 'http://localhost:8080';
const beacon = (lcp: number, extra: Record<string, unknown> = {}) => ({
  v: 1,
  service: 'shop-web',
  url: `https://shop.example/products/${Math.floor(lcp)}?utm=x`,
  metrics: [
    { name: 'LCP', value: lcp, rating: 'good', id: `l${lcp}`, attribution: { target: 'img.hero', url: 'https://cdn.example/hero.png' } },
    { name: 'CLS', value: 0.02 },
    { name: 'INP', value: 120, attribution: { interactionTarget: 'button#add' } },
  ],
  nav: { loadTime: lcp + 300, transferBytes: 250_000, resources: 9 },
  device: { viewport: 390 },
  ...extra,
});
const send = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/rum`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', origin: ORIGIN, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const counters = async (url: string) => Object.fromEntries([...(await (await fetch(`${url}/metrics`)).text()).matchAll(/^solemate_perf_rum_beacons_total\{result="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));

test('beacons are merged, stored on flush, and answered by /api/rum as p75 and shares per page and device', async () => {
  const s = await start();
  // 100 page views: LCP 1,000 … 5,950 ms → 30 good (≤ 2.5 s), 30 needing improvement, 40 poor (> 4 s)
  for (let i = 0; i < 100; i++) {
    const res = await send(s.url, beacon(1000 + i * 50));
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
  }
  assert.ok((await s.rum.flush()) > 0);
  const r = await json(fetch(`${s.url}/api/rum?from=-1h`));
  assert.equal(r.pages.length, 1);
  const p = r.pages[0];
  assert.deepEqual([p.service, p.page, p.device], ['shop-web', '/products/:id', 'mobile']);
  const lcp = p.vitals.LCP;
  assert.equal(lcp.count, 100);
  assert.ok(Math.abs(lcp.p75 - 4700) <= 4700 * 0.0055, `p75 ${lcp.p75}`);
  assert.ok(Math.abs(lcp.good - 0.31) < 0.011 && Math.abs(lcp.poor - 0.39) < 0.011, JSON.stringify(lcp));
  assert.equal(p.vitals.CLS.good, 1);
  assert.equal(p.vitals.INP.count, 100);
  assert.ok(Math.abs(p.loadTime.p75 - 5000) <= 5000 * 0.0055);
  assert.deepEqual(r.attribution.map((a: { vital: string; target: string }) => `${a.vital} ${a.target}`).sort(), ['INP button#add', 'LCP img.hero']);
  assert.equal(r.attribution.find((a: { vital: string }) => a.vital === 'LCP').resource, 'https://cdn.example/hero.png');
  assert.ok(r.chart.series[0].points.some((pt: [number, number | null]) => pt[1] !== null));
  assert.match(r.derivedFrom, /300 vital values from real page views/);
  // the same beacons as metrics: an SLO or alert rule reads browser.web_vitals.lcp like any histogram
  const names = (await json(fetch(`${s.url}/api/metrics/names`))).metrics.map((m: { name: string }) => m.name);
  for (const n of ['browser.web_vitals.lcp', 'browser.web_vitals.inp', 'browser.web_vitals.cls', 'browser.page.load_time', 'browser.web_vitals.attributed']) assert.ok(names.includes(n), n);
  assert.equal((await counters(s.url)).accepted, 100);
  assert.equal((await fetch(`${s.url}/api/rum?vital=FID`)).status, 400);
});

test('every bad beacon class gets its 4xx and its counter; nothing of it is stored', async () => {
  const s = await start({}, testConfig({ rum: { bodyBytes: 2048, beaconsPerClientPerMinute: 5, origins: ['https://*.example.com'] } }));
  const cases: [string, () => Promise<Response>, number, string][] = [
    ['bad_json', () => send(s.url, '{"v":1,'), 400, 'not JSON'],
    ['bad_beacon', () => send(s.url, beacon(1000, { metrics: [{ name: 'LCP', value: 900 }, { name: 'LCP', value: -5 }] })), 400, 'LCP value must be'],
    ['too_large', () => send(s.url, beacon(1000, { pad: 'x'.repeat(4000) })), 413, 'at most 2048 bytes (rum.bodyBytes)'],
    ['forbidden_origin', () => send(s.url, beacon(1000), { origin: 'https://evil.test' }), 403, 'add the origin to rum.origins'],
    ['forbidden_origin', () => send(s.url, beacon(1000), { origin: 'null' }), 403, 'not accepted'],
    ['unsupported_media_type', () => send(s.url, beacon(1000), { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'text/plain or application/json'],
  ];
  for (const [reason, run, status, message] of cases) {
    const res = await run();
    assert.equal(res.status, status, reason);
    assert.ok((await res.text()).includes(message), `${reason}: ${message}`);
  }
  // an allowed wildcard origin, and JSON from fetch; then the address's minute is used up
  assert.equal((await send(s.url, beacon(1000), { origin: 'https://www.example.com', 'content-type': 'application/json' })).status, 204);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await send(s.url, beacon(1000))).status);
  // the two that passed the origin check and were read (bad_json, bad_beacon) counted against the
  // rate, with the wildcard one: two more are accepted, then 429s (a body refused while it is read,
  // 413 or 415, is answered before the rate is counted)
  assert.deepEqual(statuses, [204, 204, 429, 429, 429, 429]);
  const limited = await send(s.url, beacon(1000));
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  await s.rum.flush();
  const c = await counters(s.url);
  assert.deepEqual(c, { accepted: 3, bad_json: 1, bad_beacon: 1, too_large: 1, forbidden_origin: 2, rate_limited: 5, unsupported_media_type: 1 });
  const r = await json(fetch(`${s.url}/api/rum?from=-1h`));
  assert.equal(r.pages[0].vitals.LCP.count, 3, 'only the accepted beacons: no part of a refused one (the first LCP of the bad_beacon case)');
  // a preflight for fetch senders, allowed and not
  const ok = await fetch(`${s.url}/v1/rum`, { method: 'OPTIONS', headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' } });
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://shop.example.com');
  assert.equal((await fetch(`${s.url}/v1/rum`, { method: 'OPTIONS', headers: { origin: 'https://example.com.evil.test' } })).status, 403);
});

test('GET /rum.js serves the script-tag snippet with web-vitals inside', async () => {
  const s = await start();
  const res = await fetch(`${s.url}/rum.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /javascript/);
  const body = await res.text();
  assert.match(body, /sendBeacon/);
  assert.match(body, /largest-contentful-paint/, 'web-vitals bundled in');
});
