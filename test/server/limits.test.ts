// The server's limits, end to end over HTTP: series, request size, queue, nesting, and the answers
// a client gets past each (docs/configuration.md#limits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { encodeMetricsRequest } from '../../src/otlp/proto.js';
import { json, testConfig } from '../helpers.js';
import { memoryServers } from './memory-server.js';

const start = memoryServers();
const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
const attr = (k: string, v: string) => ({ key: k, value: { stringValue: v } });

/** A request of `n` delta counter points of one metric, each its own series (attribute user.id). */
function counters(metric: string, n: number, from = 0, service = 'shop') {
  const now = Date.now();
  const dataPoints = Array.from({ length: n }, (_, i) => ({ startTimeUnixNano: ns(now - 1000), timeUnixNano: ns(now), asInt: String(i + 1), attributes: [attr('user.id', `u${from + i}`), attr('region', 'eu')] }));
  return { resourceMetrics: [{ resource: { attributes: [attr('service.name', service)] }, scopeMetrics: [{ scope: { name: 't' }, metrics: [{ name: metric, unit: '1', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints } }] }] }] };
}
/** Waits until the store has a series of `metric`: a request is being stored. */
async function storing(s: { store: { listSeries(m: string[]): Promise<unknown[]> } }, metric: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await s.store.listSeries([metric])).length === 0) {
    if (Date.now() > deadline) throw new Error(`no series of ${metric} after 15 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
const post = (url: string, body: unknown, path = '/v1/metrics') => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('past limits.seriesPerMetric a metric folds into its overflow series: totals kept, said, counted, alerted', async () => {
  const s = await start({}, testConfig({ limits: { seriesPerMetric: 3 } }));
  const res = await post(s.url, counters('logins', 10));
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.partialSuccess.rejectedDataPoints, '0', 'folded, not rejected');
  assert.match(body.partialSuccess.errorMessage, /logins: 7 points of new series past limits.seriesPerMetric were folded into the series otel.metric.overflow=true; attribute "user.id" has 3 distinct values/);

  const series = await s.store.listSeries(['logins']);
  assert.equal(series.length, 4);
  const rows = await s.store.readRows(series.map((r) => r.id), 0, Date.now() + 60_000, 'minute');
  assert.equal(rows.reduce((a, r) => a + r.sum, 0), 55, 'every increment is kept, the overflow series holds 4+…+10');
  assert.deepEqual(series.find((r) => r.attributes['otel.metric.overflow'])?.attributes, { 'otel.metric.overflow': 'true' });

  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(metrics, /^solemate_perf_ingest_series_overflow_points_total\{metric="logins",reason="series_per_metric",service="shop"\} 7$/m);
  assert.match(metrics, /^solemate_perf_ingest_active_series 4$/m);
  assert.match(metrics, /^solemate_perf_prometheus_view_dropped_points_total 0$/m);
  const limits = await json(fetch(`${s.url}/api/limits`));
  assert.equal(limits.overflows[0].metric, 'logins');
  assert.equal(limits.overflows[0].attribute, 'user.id');
  assert.equal(limits.overflows[0].service, 'shop');
  const cycle = await s.evaluateAlerts();
  const fired = cycle?.transitions.find((t) => t.instance.alert === 'SeriesLimitReached');
  assert.ok(fired, `the built-in rule fires: ${JSON.stringify(cycle?.transitions.map((t) => t.instance.alert))}`);
  assert.equal(fired.instance.labels.metric, 'logins');
  assert.equal(fired.instance.labels.attribute, 'user.id');
  // another service's series of the same metric have their own budget: not folded
  const other = await (await post(s.url, counters('logins', 3, 0, 'other-shop'))).json();
  assert.deepEqual(other, {});
  assert.equal((await s.store.listSeries(['logins'])).length, 7);
});

test('past limits.series new series are rejected, with the count in the partial success', async () => {
  const s = await start({}, testConfig({ limits: { series: 5 } }));
  const body = await (await post(s.url, counters('a', 8))).json();
  assert.equal(body.partialSuccess.rejectedDataPoints, '3');
  assert.match(body.partialSuccess.errorMessage, /a: 3 points of new series were rejected: the server holds limits.series active series/);
  assert.equal((await s.store.listSeries(['a'])).length, 5);
});

test('a request over limits.pointsPerRequest (or spansPerRequest) is answered 413 before anything is stored', async () => {
  const s = await start({}, testConfig({ limits: { pointsPerRequest: 5, spansPerRequest: 2 } }));
  for (const [body, type] of [
    [JSON.stringify(counters('big', 6)), 'application/json'],
    [Buffer.from(encodeMetricsRequest(counters('big', 6))), 'application/x-protobuf'],
  ] as const) {
    const res = await fetch(`${s.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': type }, body });
    assert.equal(res.status, 413);
    assert.match((await res.json()).message, /holds 6 data points; the limit is 5 \(limits.pointsPerRequest\): export in batches of at most 5/);
  }
  assert.equal((await s.store.listSeries(['big'])).length, 0);
  const now = Date.now();
  const spans = [1, 2, 3].map((i) => ({ traceId: 'b'.repeat(32), spanId: String(i).padStart(16, '0'), name: 's', startTimeUnixNano: ns(now), endTimeUnixNano: ns(now + 1) }));
  const res = await post(s.url, { resourceSpans: [{ scopeSpans: [{ spans }] }] }, '/v1/traces');
  assert.equal(res.status, 413);
  assert.match((await res.json()).message, /holds 3 spans; the limit is 2 \(limits.spansPerRequest\)/);
  assert.equal(s.stats.requests.too_large, 3);
});

test('a JSON body nested past limits.jsonDepth is a clear 400, not a stack overflow', async () => {
  const s = await start();
  const res = await fetch(`${s.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceMetrics":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}' });
  assert.equal(res.status, 400);
  assert.match((await res.json()).message, /nests deeper than 64 levels \(limits.jsonDepth\)/);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

test('the largest accepted request is stored in slices: /healthz is answered while it is stored', async () => {
  const s = await start();
  const big = JSON.stringify(counters('wide', 20_000));
  let bigDone = 0;
  const stored = fetch(`${s.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big }).then(async (r) => {
    bigDone = performance.now();
    return r.status;
  });
  // once the big request is being stored (its first series are there), ask for /healthz
  await storing(s, 'wide');
  const health = await fetch(`${s.url}/healthz`);
  const healthDone = performance.now();
  assert.equal(health.status, 200);
  assert.equal(await stored, 200);
  assert.ok(healthDone < bigDone, 'healthz was answered before the request being stored finished');
  assert.equal((await s.store.listSeries(['wide'])).length, 10_001, 'limits.seriesPerMetric (10000), and the overflow series that holds the rest');
});

test('past limits.queuedRequests the answer is 429 with Retry-After; the OpenTelemetry exporter retries and loses nothing', async () => {
  // one request of 60k points takes seconds to store and fills a queue of one
  const s = await start({}, testConfig({ limits: { queuedRequests: 1, pointsPerRequest: 100_000, seriesPerMetric: 100_000 }, server: { maxDecompressed: 64 * 1024 * 1024 } }));
  const body = zlib.gzipSync(JSON.stringify(counters('bulk', 60_000)));
  const first = fetch(`${s.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body }).then((r) => r.status);
  await storing(s, 'bulk');
  const turned = await post(s.url, counters('small', 1));
  assert.equal(turned.status, 429);
  assert.ok(Number(turned.headers.get('retry-after')) >= 1);
  assert.match((await turned.json()).message, /send this one again after Retry-After/);

  // the stock exporter's first attempt meets the same full queue, and it tries again
  const reader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${s.url}/v1/metrics` }), exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'otel-app' }), readers: [reader] });
  provider.getMeter('t').createCounter('orders').add(5, { shop: 'a' });
  const flushed = reader.forceFlush();
  assert.equal(await first, 200);
  await flushed;
  await provider.shutdown();
  assert.ok(s.stats.requests.busy >= 2, `turned away: ${s.stats.requests.busy}`);
  const [orders] = await s.store.listSeries(['orders']);
  assert.ok(orders, 'the exporter sent its batch again after Retry-After');
  const rows = await s.store.readRows([orders.id], 0, Date.now() + 60_000, 'minute');
  assert.equal(rows.reduce((a, r) => a + r.sum, 0), 5);
});

test('a body over server.bodyLimit with a Content-Length is answered 413 on both signals, before the connection closes', async () => {
  const s = await start({}, testConfig({ server: { bodyLimit: 1024 * 1024 } }));
  for (const path of ['/v1/metrics', '/v1/traces']) {
    const status = await new Promise<number | string>((resolve) => {
      const req = http.request(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-length': String(100 * 1024 * 1024) } });
      req.once('response', (res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.once('error', (e) => resolve(e.message));
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (req.write(chunk));
      };
      req.on('drain', pump);
      pump();
    });
    assert.equal(status, 413, path);
  }
});

/** `n` http.server.request.duration series (one route each), a point a minute for `minutes` minutes up to now. */
async function requests(url: string, n: number, minutes = 1) {
  const now = Date.now();
  const dataPoints = [];
  for (let m = 0; m < minutes; m++) {
    for (let i = 0; i < n; i++) dataPoints.push({ startTimeUnixNano: ns(now - (m + 1) * 60_000), timeUnixNano: ns(now - m * 60_000), count: '1', sum: 0.01, explicitBounds: [0.1], bucketCounts: ['1', '0'], attributes: [attr('http.route', `/r${i}`), attr('http.request.method', 'GET'), attr('http.response.status_code', '200')] });
  }
  const body = { resourceMetrics: [{ resource: { attributes: [attr('service.name', 'shop')] }, scopeMetrics: [{ metrics: [{ name: 'http.server.request.duration', unit: 's', histogram: { aggregationTemporality: 1, dataPoints } }] }] }] };
  assert.equal((await post(url, body)).status, 200);
}

test('a query past limits.querySeries or queryRows is a 422 that says how to narrow it; a narrower one answers', async () => {
  const s = await start({}, testConfig({ limits: { querySeries: 3, queryRows: 100 } }));
  await requests(s.url, 5);
  const wide = await fetch(`${s.url}/api/metrics?from=-15m`);
  assert.equal(wide.status, 422);
  const body = await wide.json();
  assert.equal(body.code, 'PERF_ERR_QUERY_BUDGET');
  assert.match(body.message, /matches 5 series; the limit is 3 \(limits.querySeries\): narrow it with service=, instance=, route=/);
  assert.equal((await fetch(`${s.url}/api/metrics?from=-15m&route=/r1`)).status, 200);
  const long = await fetch(`${s.url}/api/metrics?from=-6h&route=/r1`);
  assert.equal(long.status, 422);
  assert.match((await long.json()).message, /1 series × 36[01] minutes or hours = 36[01] rows; the limit is 100 \(limits.queryRows\)/);
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(metrics, /^solemate_perf_query_over_budget_total\{budget="series"\} 1$/m);
  assert.match(metrics, /^solemate_perf_query_over_budget_total\{budget="rows"\} 1$/m);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

test('a query that reads longer than limits.queryTimeMs stops with a 422; many series are read in steps', async () => {
  const s = await start({}, testConfig({ limits: { queryTimeMs: 1 } }));
  await requests(s.url, 1200, 3);
  const res = await fetch(`${s.url}/api/metrics?from=-15m`);
  assert.equal(res.status, 422);
  assert.match((await res.json()).message, /reading 1200 series took longer than limits.queryTimeMs \(1 ms\)/);
  const ok = await start();
  await requests(ok.url, 1200, 3);
  const m = await json(fetch(`${ok.url}/api/metrics?from=-15m`));
  assert.equal(m.throughput.requests, 3600, 'every row of three reads of 500, 500 and 200 series');
});

test('lists are paged: metric names, series and routes answer limit entries from offset, with the total', async () => {
  const s = await start({}, testConfig({ limits: { pageSize: 2 } }));
  await requests(s.url, 5);
  const first = await json(fetch(`${s.url}/api/series?metric=http.server.request.duration`));
  assert.equal(first.series.length, 2);
  assert.equal(first.total, 5);
  assert.equal(first.next, 2);
  const last = await json(fetch(`${s.url}/api/series?metric=http.server.request.duration&offset=4&limit=20`));
  assert.equal(last.series.length, 1);
  assert.equal(last.next, null);
  const routes = await json(fetch(`${s.url}/api/routes?from=-15m&limit=3`));
  assert.equal(routes.routes.length, 3);
  assert.equal(routes.total, 5);
  const names = await json(fetch(`${s.url}/api/metrics/names?limit=1`));
  assert.deepEqual(names.metrics.map((m: { name: string }) => m.name), ['http.server.request.duration']);
  const bad = await fetch(`${s.url}/api/series?metric=http.server.request.duration&limit=21`);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).message, /limit must be a whole number from 0 to 20/);
});

test('limits.spansPerTrace holds across the slices of one request; a request that fails to decode or is malformed late stores nothing', async () => {
  const s = await start({}, testConfig({ limits: { spansPerTrace: 1500 } }));
  const now = Date.now();
  const spans = Array.from({ length: 2500 }, (_, i) => ({ traceId: 'c'.repeat(32), spanId: (i + 1).toString(16).padStart(16, '0'), name: 's', startTimeUnixNano: ns(now), endTimeUnixNano: ns(now + 1) }));
  const body = await (await post(s.url, { resourceSpans: [{ scopeSpans: [{ spans }] }] }, '/v1/traces')).json();
  assert.equal(body.partialSuccess.rejectedSpans, '1000', 'five slices of 500, one trace');
  assert.match(body.partialSuccess.errorMessage, /more than 1500 spans in this request \(limits.spansPerTrace\)/);

  // 3,000 good points, then a resource whose one gauge point is well framed but not a point (wire
  // type 7): the count passes, the decode of the last slice fails
  const good = Buffer.from(encodeMetricsRequest(counters('early', 3000)));
  const point = [0x07];
  const gauge = [0x0a, point.length, ...point];
  const metric = [0x0a, 0x01, 0x78, 0x2a, gauge.length, ...gauge];
  const scope = [0x12, metric.length, ...metric];
  const resource = [0x12, scope.length, ...scope];
  const broken = Buffer.concat([good, Buffer.from([0x0a, resource.length, ...resource])]);
  const res = await fetch(`${s.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: broken });
  assert.equal(res.status, 400);
  assert.equal((await s.store.listSeries(['early'])).length, 0, 'nothing of it was stored');

  // JSON: 3,000 good points, then a resource whose container is wrong, in a later slice
  for (const bad of [5, { scopeMetrics: 'x' }, { scopeMetrics: [{ metrics: 'y' }] }]) {
    const late = await post(s.url, { resourceMetrics: [...counters('late', 3000).resourceMetrics, bad] });
    assert.equal(late.status, 400);
    assert.match((await late.json()).message, /not an ExportMetricsServiceRequest: (resourceMetrics\[\] must be objects|scopeMetrics must be an array|scopeMetrics\[\]\.metrics must be an array)/);
    assert.equal((await s.store.listSeries(['late'])).length, 0, `nothing of it was stored (${JSON.stringify(bad)})`);
  }
});
