/// <reference lib="dom" />
// The dashboard stays inert with hostile label values (issue 25): metrics and traces are ingested
// through OTLP/HTTP with markup and script in the service and instance names, routes, span names,
// attribute keys and values and statements; every page is then opened in headless Chromium with the
// content security policy bypassed — so the escaping itself is what is tested, not the CSP behind
// it — and no script may run, no dialog open, no element or handler come from the data, and the
// hostile text must be on the page as text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { memoryServers } from '../server/memory-server.js';
import { testConfig, tmpDir } from '../helpers.js';

const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const skip = fs.existsSync(CHROME) ? false : `Chromium not found at ${CHROME}: apt-get install -y chromium, or set CHROME_PATH`;
if (skip) console.warn(`# skipping the browser tests: ${skip}`);

let browser: Browser;
let context: BrowserContext;
const serve = memoryServers();
before(async () => {
  if (skip) return;
  browser = await chromium.launch({ executablePath: CHROME, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  // the page's CSP would block inline handlers anyway: without it, only the rendering stands between data and script
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
});
after(() => browser?.close());

// each sets window.__xss to its own number if it ever runs
const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = '"><script>window.__xss=2</script>';
const JS_URL = 'javascript:window.__xss=3';
const SVG = '<svg/onload=window.__xss=4>';
const LINK = '<a href="javascript:window.__xss=5">click</a>';
const QUOTE = "' onmouseover='window.__xss=6' x='";
const ALERT = '<iframe src="javascript:alert(7)"></iframe>';
const KEY = `tenant${SVG}`;

const SERVICE = `shop${SCRIPT}`;
const INSTANCE = `host-1${IMG}`;
const ROUTES = [IMG, SCRIPT, JS_URL, LINK, QUOTE];
const MIN = 60_000;

const nanos = (ms: number) => String(BigInt(Math.round(ms)) * 1_000_000n);
const kv = (attrs: Record<string, string>) => Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } }));
const resource = { attributes: kv({ 'service.name': SERVICE, 'service.instance.id': INSTANCE }) };

/** One delta explicit-bucket histogram point (seconds) per attribute set, at `time`. */
function histogram(name: string, unit: string, time: number, points: { attrs: Record<string, string>; values: number[] }[]) {
  const bounds = [0.005, 0.05, 0.2, 0.5, 1, 5, 20];
  return {
    name,
    unit,
    histogram: {
      aggregationTemporality: 1,
      dataPoints: points.map(({ attrs, values }) => {
        const counts = new Array(bounds.length + 1).fill(0);
        for (const v of values) counts[bounds.findIndex((b) => v <= b) === -1 ? bounds.length : bounds.findIndex((b) => v <= b)]++;
        return { attributes: kv(attrs), startTimeUnixNano: nanos(time - MIN), timeUnixNano: nanos(time), count: String(values.length), sum: values.reduce((a, b) => a + b, 0), min: Math.min(...values), max: Math.max(...values), bucketCounts: counts.map(String), explicitBounds: bounds };
      }),
    },
  };
}

function metricsRequest(time: number) {
  const http = ROUTES.map((route, i) => ({ attrs: { 'http.route': route, 'http.request.method': 'GET', 'http.response.status_code': i === 0 ? '500' : '200', [KEY]: JS_URL, ...(i === 0 ? { 'error.type': SVG } : {}) }, values: Array(30).fill(0.15 + i * 0.1) }));
  return {
    resourceMetrics: [
      {
        resource,
        scopeMetrics: [
          {
            scope: { name: 'hostile-labels-test' },
            metrics: [
              histogram('http.server.request.duration', 's', time, http),
              histogram('db.client.operation.duration', 's', time, [{ attrs: { 'db.system.name': 'postgresql', 'db.query.text': `SELECT '${IMG}' FROM t`, 'db.collection.name': SVG }, values: Array(20).fill(0.004) }]),
              histogram('solemate.http.server.db.queries', '{query}', time, ROUTES.map((route) => ({ attrs: { 'http.route': route }, values: Array(30).fill(12) }))),
              histogram('solemate.http.server.db.time_share', '1', time, ROUTES.map((route) => ({ attrs: { 'http.route': route }, values: Array(30).fill(0.6) }))),
              { name: 'process.cpu.utilization', unit: '1', gauge: { dataPoints: [{ attributes: [], timeUnixNano: nanos(time), asDouble: 0.3 }] } },
              { name: 'solemate.cache.requests', unit: '{request}', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ attributes: kv({ 'cache.result': LINK }), startTimeUnixNano: nanos(time - MIN), timeUnixNano: nanos(time), asDouble: 40 }] } },
            ],
          },
        ],
      },
    ],
  };
}

const TRACE = 'c'.repeat(32);
function tracesRequest(time: number) {
  const span = (spanId: string, name: string, start: number, ms: number, kind: number, attrs: Record<string, string>, parentSpanId?: string, error = false) => ({ traceId: TRACE, spanId, ...(parentSpanId ? { parentSpanId } : {}), name, kind, startTimeUnixNano: nanos(start), endTimeUnixNano: nanos(start + ms), attributes: kv(attrs), status: error ? { code: 2, message: SCRIPT } : {} });
  return {
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            scope: { name: 'hostile-labels-test' },
            spans: [
              span('1'.repeat(16), `GET ${IMG}`, time, 300, 2, { 'http.route': IMG, 'http.request.method': 'GET', 'http.response.status_code': '500', [KEY]: JS_URL, 'url.full': JS_URL }, undefined, true),
              span('2'.repeat(16), SCRIPT, time + 10, 100, 3, { 'db.system.name': 'postgresql', 'db.query.text': `SELECT ${SVG}`, [QUOTE]: LINK }, '1'.repeat(16)),
              span('3'.repeat(16), SCRIPT, time + 120, 100, 3, { 'db.system.name': 'postgresql', 'db.query.text': `SELECT ${SVG}` }, '1'.repeat(16)),
              span('4'.repeat(16), LINK, time + 230, 20, 3, { 'db.system.name': 'redis', [ALERT]: ALERT }, '1'.repeat(16), true),
            ],
          },
        ],
      },
    ],
  };
}

async function post(url: string, body: object) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await res.json();
  assert.equal(res.status, 200, JSON.stringify(answer));
  assert.equal(answer.partialSuccess?.rejectedDataPoints ?? answer.partialSuccess?.rejectedSpans ?? 0, 0, JSON.stringify(answer));
}

/** Every element attribute that would run script: on* handlers, javascript: in a URL attribute. */
function scriptableAttributes(): string[] {
  const found: string[] = [];
  for (const el of Array.from(document.querySelectorAll('*'))) {
    for (const a of Array.from(el.attributes)) {
      if (/^on/i.test(a.name) || (/^(href|src|action|formaction|xlink:href|data)$/i.test(a.name) && /^\s*javascript:/i.test(a.value))) found.push(`<${el.tagName.toLowerCase()} ${a.name}="${a.value}">`);
    }
  }
  return found;
}

test('hostile service, instance, route, span and attribute names stay text on every page', { skip }, async () => {
  const rules = tmpDir();
  // one alert per service, instance, route and hostile attribute key: every label is shown on the alerts page
  fs.writeFileSync(path.join(rules, 'hostile.yml'), JSON.stringify({ groups: [{ name: 't', rules: [{ alert: 'Hostile', expr: { metric: 'http.server.request.duration', aggregation: 'count', window: '10m', by: ['service', 'instance', 'route', KEY], op: '>', threshold: 0 }, labels: { severity: 'critical' }, annotations: { summary: `{{ $labels.route }} on {{ $labels.service }} ${SVG}` } }] }] }));
  const s = await serve({}, testConfig({ alerting: { rules: [rules] } }));
  const now = Date.now();
  for (const t of [now - 3 * MIN, now - 2 * MIN, now - MIN]) await post(`${s.url}/v1/metrics`, metricsRequest(t));
  await post(`${s.url}/v1/traces`, tracesRequest(now - 2 * MIN));
  await s.store.saveRun({ id: 'hostile', scenario: `shop${IMG}`, profile: 'load', target: `http://127.0.0.1:3000/${SCRIPT}`, startedAt: now - 10 * MIN, finishedAt: now - 9 * MIN, passed: false, gitRevision: SVG, environment: { [KEY]: LINK }, result: { rps: 10, requests: 100, errorRate: 0, corrected: { p50: 1, p95: 2, p99: 3 }, thresholds: [{ name: `p95 ${IMG}`, ok: false }] }, samples: [1, 2, 3] });
  await s.evaluateAlerts();
  // a real-user beacon whose attribution names hostile elements and resources
  const beacon = { v: 1, url: `https://shop.example/p/${SCRIPT}`, metrics: [{ name: 'LCP', value: 3000, attribution: { target: `div${IMG}`, url: JS_URL } }, { name: 'INP', value: 300, attribution: { interactionTarget: LINK } }], device: { viewport: 1200 } };
  assert.equal((await fetch(`${s.url}/v1/rum`, { method: 'POST', headers: { 'content-type': 'text/plain', origin: s.url }, body: JSON.stringify(beacon) })).status, 204);
  await s.rum.flush();

  const route = encodeURIComponent(IMG);
  // [page, hostile text that must be visible on it as text]
  const pages: [string, string][] = [
    ['/', '<img src=x'],
    ['/routes', '"><script>window.__xss=2</script>'],
    [`/routes?route=${route}`, 'javascript:'],
    [`/routes?route=${route}&trace=${TRACE}`, 'SELECT <svg/onload'],
    ['/database', `SELECT '<img src=x`],
    // metric names are checked on ingest ([A-Za-z][A-Za-z0-9_.-/]*): nothing hostile reaches this page
    ['/trends?metric=http.server.request.duration&period=1h', 'Direction'],
    ['/alerts', '<svg/onload=window.__xss=4>'],
    // the slowest route becomes a recommendation, its route in the title and the evidence
    ['/optimizations', "GET ' onmouseover='window.__xss=6' x='"],
    ['/loadtests?run=hostile', 'shop<img src=x'],
    ['/dashboards/monitoring', 'host-1<img src=x'],
    ['/dashboards/performance', '<a href="javascript:window.__xss=5">click</a>'],
    ['/dashboards/optimization', "' onmouseover='window.__xss=6' x='"],
    ['/frontend', 'div<img src=x'],
  ];
  for (const [p, text] of pages) {
    const page = await context.newPage();
    const dialogs: string[] = [];
    const errors: string[] = [];
    page.on('dialog', (d) => (dialogs.push(d.message()), void d.dismiss()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${s.url}${p}`);
    await page.waitForSelector('main h1');
    await page.locator('main').getByText(text, { exact: false }).first().waitFor({ timeout: 10_000 });
    // let the charts draw and the lazy panels fill; a pointer over each chart fills its legend
    await page.waitForTimeout(400);
    for (const chart of await page.locator('main .uplot .u-over').all()) await chart.hover({ timeout: 1000 }).catch(() => {});
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, `${p}: a script from the data ran`);
    assert.deepEqual(dialogs, [], `${p}: dialogs`);
    assert.deepEqual(await page.evaluate(scriptableAttributes), [], `${p}: handlers or javascript: URLs from the data`);
    assert.equal(await page.locator('main :is(script, iframe, object, embed, svg[onload], img[src="x"])').count(), 0, `${p}: elements from the data`);
    assert.deepEqual(errors, [], `${p}: page errors`);
    await page.close();
  }

  // the control: the same markup put in as HTML does run here, so the checks above can see it
  const page = await context.newPage();
  await page.goto(`${s.url}/routes`);
  await page.locator('main').getByText(IMG).first().waitFor();
  await page.evaluate((html) => document.querySelector('main')!.insertAdjacentHTML('beforeend', html), IMG);
  await page.waitForFunction(() => (window as unknown as { __xss?: number }).__xss === 1, undefined, { timeout: 5000 });
  assert.deepEqual(await page.evaluate(scriptableAttributes), ['<img onerror="window.__xss=1">']);
  await page.close();
});

test('the dashboard shell is served with a content security policy that forbids inline script', { skip }, async () => {
  const s = await serve({}, testConfig());
  const res = await fetch(`${s.url}/routes`);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
});
