// What the dashboard reads and does through the server: the shell and its assets, access roles,
// the live stream, panel queries over a range, the route table and heatmap, dashboards as code,
// load-test comparisons, and the optimization calls (recommendations, pre-check, apply refused
// without a measuring set-up; a manual recommendation applied only when approved, and the approval
// kept on the record).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { histPoint } from '../store/contract.js';
import { json, testConfig } from '../helpers.js';
import { seedReportData, seedStaleSummaryData, startReportApp } from '../optimize/report-app.js';
import { memoryServers } from './memory-server.js';
import { WEB_DIST } from '../../src/server/dashboard.js';
import { HEATMAP_BINS } from '../../src/server/views.js';
import { buildMetricsRequest } from '../../src/otlp/build.js';
import { Recorder } from '../../src/sdk/recorder.js';

const start = memoryServers();

const MIN = 60_000;
const attrs = (route: string, status = '200') => ({ 'http.route': route, 'http.request.method': 'GET', 'http.response.status_code': status });

test('the shell is served at every page path with a strict CSP; assets pre-compressed, cached for good', async () => {
  assert.ok(fs.existsSync(`${WEB_DIST}/index.html`), 'npm test builds the dashboard first (npm run build:web)');
  const s = await start();
  for (const p of ['/', '/routes', '/alerts', '/optimizations', '/dashboards/monitoring']) {
    const res = await fetch(`${s.url}${p}`);
    assert.equal(res.status, 200, p);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    assert.match(html, /<div id="app">/);
  }
  const html = await (await fetch(`${s.url}/`)).text();
  const js = /src="\/assets\/(app-[\w-]+\.js)"/.exec(html)![1];
  const br = await fetch(`${s.url}/assets/${js}`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(br.headers.get('content-encoding'), 'br');
  assert.match(br.headers.get('cache-control') ?? '', /immutable/);
  const body = await br.text(); // fetch decodes brotli
  assert.ok(body.length > 10_000 && !body.includes('\uFFFD'), 'decodes to the bundle');
  const plain = await fetch(`${s.url}/assets/${js}`, { headers: { 'accept-encoding': 'identity' } });
  assert.equal(plain.headers.get('content-encoding'), null);
  assert.equal(await plain.text(), body);
  assert.equal((await fetch(`${s.url}/assets/..%2Fpackage.json`)).status, 404);
  assert.equal((await fetch(`${s.url}/assets/nope.js`)).status, 404);
  assert.equal((await fetch(`${s.url}/nowhere`)).status, 404);
});

test('roles: a viewer token guards reads, an admin token guards changes; viewers cannot change', async () => {
  const s = await start({ SOLEMATE_PERF_VIEWER_TOKEN: 'v', SOLEMATE_PERF_ADMIN_TOKEN: 'a', SOLEMATE_PERF_INGEST_TOKEN: 'i' });
  const get = (path: string, token?: string) => fetch(`${s.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const silence = (token?: string) => fetch(`${s.url}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ matchers: [{ name: 'alertname', value: 'X' }], endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 't', comment: 'c' }) });
  assert.equal((await get('/api/status')).status, 401);
  assert.equal((await get('/api/status', 'wrong')).status, 401);
  assert.equal((await get('/api/status', 'v')).status, 200);
  assert.equal((await get('/api/status', 'a')).status, 200);
  assert.equal((await get('/api/status', 'i')).status, 401, 'the ingest token writes data; it does not read the API');
  assert.equal((await get('/api/optimizations/settings', 'i')).status, 200, '… except the settings the app polls');
  assert.equal((await get('/api/stream')).status, 401);
  assert.equal((await get('/')).status, 200, 'the shell holds no data');
  assert.deepEqual(await json(get('/api/session', 'v')), { role: 'viewer', canRead: true, canWrite: false, readNeedsToken: true, writeNeedsToken: true });
  assert.deepEqual(await json(get('/api/session')), { role: 'anonymous', canRead: false, canWrite: false, readNeedsToken: true, writeNeedsToken: true });
  assert.equal((await silence()).status, 401);
  const viewer = await silence('v');
  assert.equal(viewer.status, 403);
  assert.match((await json(viewer)).message, /viewers cannot change anything/);
  assert.equal((await silence('a')).status, 201);

  const open = await start();
  assert.deepEqual(await json(fetch(`${open.url}/api/session`)), { role: 'anonymous', canRead: true, canWrite: true, readNeedsToken: false, writeNeedsToken: false });
  // the ingest token alone keeps guarding changes, as before admin tokens existed
  const ingestOnly = await start({ SOLEMATE_PERF_INGEST_TOKEN: 'i' });
  assert.equal((await fetch(`${ingestOnly.url}/api/status`)).status, 200);
  assert.equal((await fetch(`${ingestOnly.url}/api/silences/x`, { method: 'DELETE' })).status, 401);
});

test('the live stream announces stored data within 2 s of its ingest and coalesces bursts', async () => {
  const s = await start();
  const ctl = new AbortController();
  const res = await fetch(`${s.url}/api/stream`, { signal: ctl.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { at: number; data: Record<string, unknown> }[] = [];
  const reading = (async () => {
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: '', done: true }));
      if (done) return;
      buf += value;
      for (const m of buf.matchAll(/^data: (.*)$/gm)) events.push({ at: Date.now(), data: JSON.parse(m[1]) });
      buf = buf.slice(buf.lastIndexOf('\n\n') + 2);
    }
  })();
  const r = new Recorder({ service: 'shop', instance: 'i1', onWarning: () => {} });
  const h = r.histogram('http.server.request.duration', { unit: 's' });
  const sent: number[] = [];
  for (let i = 0; i < 3; i++) {
    h.record(0.01, attrs('/live'));
    sent.push(Date.now());
    assert.equal((await fetch(`${s.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(buildMetricsRequest(r.collect())) })).status, 200);
  }
  const deadline = Date.now() + 3000;
  while (!events.some((e) => e.data.type === 'ingest') && Date.now() < deadline) await new Promise((x) => setTimeout(x, 50));
  const first = events.find((e) => e.data.type === 'ingest');
  assert.ok(first, 'an ingest event arrived');
  assert.ok(first.at - sent[0] < 2000, `within 2 s (${first.at - sent[0]} ms)`);
  await new Promise((x) => setTimeout(x, 700));
  const ingests = events.filter((e) => e.data.type === 'ingest');
  assert.equal(ingests.reduce((n, e) => n + (e.data.metrics as number), 0), 3, 'every stored point is counted');
  assert.ok(ingests.length < 3, 'three quick batches coalesce');
  // a disconnect ends the stream (the browser then reconnects)
  s.hub.disconnectAll();
  await reading;
  ctl.abort();
});

test('/api/query: a panel query per step over the range, and at an instant', async () => {
  const s = await start();
  const now = Math.floor(Date.now() / MIN) * MIN;
  // three minutes: 60 requests at 10 ms, then 60 at 100 ms, then 60 at 10 ms with 6 errors
  await s.store.write([
    histPoint('http.server.request.duration', attrs('/a'), now - 3 * MIN + 30_000, Array(60).fill(0.01)),
    histPoint('http.server.request.duration', attrs('/a'), now - 2 * MIN + 30_000, Array(60).fill(0.1)),
    histPoint('http.server.request.duration', attrs('/a'), now - MIN + 30_000, Array(54).fill(0.01)),
    histPoint('http.server.request.duration', attrs('/a', '500'), now - MIN + 30_000, Array(6).fill(0.01)),
  ]);
  const q = await json(fetch(`${s.url}/api/query?metric=http.server.request.duration&aggregation=p95&window=1m&from=${now - 4 * MIN}&to=${now}`));
  assert.equal(q.step, MIN);
  assert.equal(q.series.length, 1);
  const byT = new Map(q.series[0].points as [number, number][]);
  assert.ok(Math.abs(byT.get(now - 2 * MIN)! - 10) < 0.2, `minute 1 p95 ≈ 10 ms: ${byT.get(now - 2 * MIN)}`);
  assert.ok(Math.abs(byT.get(now - MIN)! - 100) < 1, 'minute 2 p95 ≈ 100 ms');
  assert.equal(byT.has(now - 3 * MIN), false, 'no point where the window holds no data');
  const rate = await json(fetch(`${s.url}/api/query?metric=http.server.request.duration&aggregation=error_ratio&window=1m&by=status&from=${now - 2 * MIN}&to=${now}&instant=true`));
  assert.deepEqual(rate.samples.map((x: { labels: Record<string, string>; value: number }) => [x.labels.status, x.value]).sort(), [['200', 0], ['500', 1]]);
  const all = await json(fetch(`${s.url}/api/query?metric=http.server.request.duration&aggregation=error_ratio&from=${now - 2 * MIN}&to=${now}&instant=true`));
  assert.ok(Math.abs(all.samples[0].value - 6 / 120) < 1e-9, 'error ratio over the range');
  for (const bad of ['aggregation=median', 'window=soon', 'from=yesterday', '']) {
    const res = await fetch(`${s.url}/api/query?${bad.startsWith('window') || bad.startsWith('aggregation') || bad.startsWith('from') ? `metric=x&${bad}` : bad}`);
    assert.equal(res.status, 400, bad);
    assert.ok((await json(res)).message.length > 10);
  }
});

test('/api/routes ranks routes by their share of time; the heatmap counts requests per latency bin', async () => {
  const s = await start();
  const now = Date.now();
  await s.store.write([
    histPoint('http.server.request.duration', attrs('/slow'), now - MIN, Array(10).fill(0.3)),
    histPoint('http.server.request.duration', attrs('/fast'), now - MIN, Array(100).fill(0.003)),
    histPoint('http.server.request.duration', attrs('/fast', '503'), now - MIN, Array(100).fill(0.003)),
  ]);
  const r = await json(fetch(`${s.url}/api/routes?from=-15m`));
  assert.deepEqual(r.routes.map((x: { route: string }) => x.route), ['/slow', '/fast']);
  const [slow, fast] = r.routes;
  assert.ok(Math.abs(slow.timeShare - 3 / (3 + 0.6)) < 0.01, `share ${slow.timeShare}`);
  assert.equal(fast.requests, 200);
  assert.equal(fast.errorRatio, 0.5);
  assert.ok(Math.abs(slow.p95Ms - 300) < 3);
  assert.ok(Math.abs(fast.requestsPerSecond - 200 / 900) < 1e-6);
  const h = await json(fetch(`${s.url}/api/routes/heatmap?route=/fast&from=-15m`));
  assert.deepEqual(h.bins, HEATMAP_BINS);
  const total = h.counts.flat().reduce((a: number, b: number) => a + b, 0);
  assert.equal(total, 200);
  const bin = h.counts.find((row: number[]) => row.some((n) => n > 0)).findIndex((n: number) => n > 0);
  assert.ok(HEATMAP_BINS[bin] >= 3 && (bin === 0 || HEATMAP_BINS[bin - 1] < 3), '3 ms lands in the bin whose upper bound is the first ≥ 3 ms');
  assert.equal((await fetch(`${s.url}/api/routes/heatmap`)).status, 400);
});

test('/api/dashboards serves the dashboards as code; load-test runs compare with a baseline', async () => {
  const s = await start();
  const d = await json(fetch(`${s.url}/api/dashboards`));
  assert.deepEqual(d.dashboards.map((x: { name: string }) => x.name), ['monitoring', 'optimization', 'performance']);
  const base = { scenario: 's', profile: 'load', target: 'http://127.0.0.1:1', startedAt: 1, finishedAt: 2, passed: true, gitRevision: undefined, environment: {}, result: {} };
  await s.store.saveRun({ ...base, id: 'base', samples: Array.from({ length: 200 }, (_, i) => 10 + (i % 10)) });
  await s.store.saveRun({ ...base, id: 'slower', samples: Array.from({ length: 200 }, (_, i) => 20 + (i % 10)) });
  const c = await json(fetch(`${s.url}/api/loadtests/slower/compare?baseline=base`));
  assert.equal(c.comparison.verdict, 'regressed');
  assert.ok(Math.abs(c.comparison.shift.shift - 10) < 0.5);
  assert.equal((await fetch(`${s.url}/api/loadtests/slower/compare`)).status, 400);
  assert.equal((await fetch(`${s.url}/api/loadtests/slower/compare?baseline=nope`)).status, 404);
});

test('optimizations from the dashboard: recommendations, pre-check, and apply refused without a measuring set-up', async () => {
  const s = await start();
  await seedReportData(s.store);
  const recs = await json(fetch(`${s.url}/api/optimizations/recommendations`));
  const cache = recs.recommendations.find((r: { action?: { type: string } }) => r.action?.type === 'route-cache');
  assert.ok(cache, JSON.stringify(recs.recommendations.map((r: { title: string }) => r.title)));
  assert.ok(recs.analyzers.length >= 10);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal((await json(fetch(`${s.url}/api/optimizations/recommendations`))).analyzedAt, recs.analyzedAt, 'the analysis is reused for 30 s');
  const fresh = await json(fetch(`${s.url}/api/optimizations/recommendations?fresh=true`));
  assert.ok(fresh.analyzedAt > recs.analyzedAt, `?fresh=true analyzes again (${recs.analyzedAt} → ${fresh.analyzedAt})`);
  const post = (path: string, body: unknown) => fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.deepEqual(await json(post('/api/optimizations/precheck', { recommendation: cache.id })), { recommendation: cache.id, ok: true, reason: null });
  const refused = await post('/api/optimizations', { recommendation: cache.id });
  assert.equal(refused.status, 409);
  assert.match((await json(refused)).message, /optimization.target .* optimization.scenario/);
  assert.equal((await post('/api/optimizations', { recommendation: 'nope' })).status, 404);
  assert.equal((await post('/api/optimizations', {})).status, 400);
  const list = await json(fetch(`${s.url}/api/optimizations`));
  assert.equal(list.canApply.ok, false);
  assert.equal((await post('/api/optimizations/nope/rollback', {})).status, 404);
});

test('a manual recommendation with an action is applied only with approve: true, and the approval is on the record', async (t) => {
  const app = await startReportApp();
  t.after(() => app.close());
  const s = await start({}, testConfig({ optimization: { target: app.target, scenario: app.scenario, measure: { seconds: 2, rounds: 2, rate: 30 } } }));
  app.settingsFrom(s.url);
  await seedStaleSummaryData(s.store);
  const recs = await json(fetch(`${s.url}/api/optimizations/recommendations`));
  const stale = recs.recommendations.find((r: { title: string }) => r.title.includes('/api/summary'));
  assert.ok(stale, JSON.stringify(recs.recommendations.map((r: { title: string }) => r.title)));
  assert.equal(stale.automatic, false);
  assert.deepEqual(stale.action.params.invalidatedBy, [], 'answers may be out of date after the refreshes');
  const post = (path: string, body: unknown) => fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.deepEqual(await json(post('/api/optimizations/precheck', { recommendation: stale.id })), { recommendation: stale.id, ok: true, reason: null }, 'a pre-check needs no approval');
  for (const body of [{ recommendation: stale.id }, { recommendation: stale.id, approve: false }]) {
    const refused = await post('/api/optimizations', body);
    assert.equal(refused.status, 400);
    assert.match((await json(refused)).message, /person's call, applied only with approve: true .*out of date/);
  }
  assert.equal((await post('/api/optimizations', { recommendation: stale.id, approve: 'yes' })).status, 400);
  assert.equal((await post('/api/optimizations', { recommendation: stale.id, approve: true })).status, 202);
  let rec: { state: string; approval?: string; recommendationId?: string } | undefined;
  for (let i = 0; i < 600 && !['kept', 'rolled_back', 'failed', 'skipped'].includes(rec?.state ?? ''); i++) {
    await new Promise((r) => setTimeout(r, 100));
    rec = (await json(fetch(`${s.url}/api/optimizations`))).optimizations[0];
  }
  assert.equal(rec?.state, 'kept', JSON.stringify(rec));
  assert.equal(rec.recommendationId, stale.id);
  assert.match(rec.approval ?? '', /approve: true/);
});

test('a server with the dashboard unbuilt says how to build it', async () => {
  const { dashboardRoutes } = await import('../../src/server/dashboard.js');
  const Fastify = (await import('fastify')).default;
  const app = Fastify();
  await app.register(dashboardRoutes, { dir: '/nonexistent' });
  const res = await app.inject({ url: '/' });
  assert.equal(res.statusCode, 503);
  assert.match(res.body, /npm run build:web/);
  await app.close();
});
