import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { buildMetricsRequest } from '../../src/otlp/build.js';
import { encodeMetricsRequest, ExportMetricsServiceResponse } from '../../src/otlp/proto.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { json, testConfig } from '../helpers.js';
import { memoryServers } from './memory-server.js';

const start = memoryServers();

function sample(): object {
  const r = new Recorder({ service: 'shop', instance: 'i1', onWarning: () => {} });
  const h = r.histogram('http.server.request.duration', { unit: 's' });
  for (let i = 1; i <= 100; i++) h.record(i / 1000, { 'http.route': '/p/:id', 'http.request.method': 'GET', 'http.response.status_code': '200' });
  return buildMetricsRequest(r.collect());
}

const post = (url: string, body: RequestInit['body'], headers: Record<string, string>) => fetch(`${url}/v1/metrics`, { method: 'POST', body, headers });

test('protobuf + gzip ingest is stored and answered with an ExportMetricsServiceResponse', async () => {
  const s = await start();
  const res = await post(s.url, zlib.gzipSync(encodeMetricsRequest(sample())), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
  const decoded = ExportMetricsServiceResponse.decode(new Uint8Array(await res.arrayBuffer()));
  assert.equal(ExportMetricsServiceResponse.toObject(decoded).partialSuccess, undefined);
  const m = await json(fetch(`${s.url}/api/metrics`));
  assert.equal(m.throughput.requests, 100);
  assert.ok(Math.abs(m.responseTime.p99 - 99) / 99 < 0.01);
});

test('JSON ingest works and partial success reports rejected points', async () => {
  const s = await start();
  const request = sample() as { resourceMetrics: { scopeMetrics: { metrics: unknown[] }[] }[] };
  request.resourceMetrics[0].scopeMetrics[0].metrics.push({ name: 'bad', gauge: { dataPoints: [{ timeUnixNano: String(BigInt(Date.now()) * 1_000_000n), asDouble: 'x' }] } });
  const res = await post(s.url, JSON.stringify(request), { 'content-type': 'application/json' });
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.equal(body.partialSuccess.rejectedDataPoints, '1');
  assert.match(body.partialSuccess.errorMessage, /bad: asDouble/);
  const names = await json(fetch(`${s.url}/api/metrics/names`));
  assert.deepEqual(names.metrics.map((m: { name: string }) => m.name), ['http.server.request.duration']);
});

test('bad input: 400 malformed, 415 media type, 413 too large before and after decompression; server stays up', async () => {
  const s = await start({}, testConfig({ server: { bodyLimit: 10_000, maxDecompressed: 100_000 } }));
  const cases: [RequestInit['body'], Record<string, string>, number, RegExp][] = [
    ['{"resourceMetrics": [', { 'content-type': 'application/json' }, 400, /cannot decode JSON/],
    [Buffer.from([0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' }, 400, /protobuf/],
    ['[1,2]', { 'content-type': 'application/json' }, 400, /ExportMetricsServiceRequest/],
    ['hello', { 'content-type': 'text/plain' }, 415, /.+/],
    [Buffer.from('not gzip'), { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 400, /not valid gzip/],
    ['{}', { 'content-type': 'application/json', 'content-encoding': 'br' }, 415, /Content-Encoding br/],
    [Buffer.alloc(20_000, 32), { 'content-type': 'application/json' }, 413, /.+/],
    [zlib.gzipSync(Buffer.alloc(1_000_000, 32)), { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 413, /decompressed/],
  ];
  for (const [payload, headers, status, msg] of cases) {
    const res = await post(s.url, payload, headers);
    const body = await json(res);
    assert.equal(res.status, status, `${JSON.stringify(headers)} → ${res.status} ${JSON.stringify(body)}`);
    assert.match(body.message, msg);
    assert.ok(body.code);
  }
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

test('a configured ingest token makes unauthenticated writes 401', async () => {
  const s = await start({ SOLEMATE_PERF_INGEST_TOKEN: 'tok' });
  const body = JSON.stringify(sample());
  assert.equal((await post(s.url, body, { 'content-type': 'application/json' })).status, 401);
  assert.equal((await post(s.url, body, { 'content-type': 'application/json', authorization: 'Bearer nope' })).status, 401);
  assert.equal((await post(s.url, body, { 'content-type': 'application/json', authorization: 'Bearer tok' })).status, 200);
  assert.equal(s.stats.requests.unauthorized, 2);
});

test('query API validates its parameters', async () => {
  const s = await start();
  const get = async (p: string) => {
    const r = await fetch(`${s.url}${p}`);
    return { status: r.status, body: await json(r) };
  };
  assert.equal((await get('/api/trends')).status, 400);
  assert.match((await get('/api/trends?metric=x&period=soon')).body.message, /period/);
  assert.match((await get('/api/trends?metric=nothing&period=1h')).body.message, /no data/);
  assert.match((await get('/api/trends?metric=x&statistic=p42')).body.message, /statistic/);
  assert.match((await get('/api/metrics?from=tomorrowish')).body.message, /cannot read time/);
  assert.equal((await get('/api/metrics?from=-1m&to=-2m')).status, 400);
  assert.equal((await get('/api/series')).status, 400);
  assert.equal((await get('/api/nope')).status, 404);
  const ok = await get('/api/status');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.status, 'unknown');
});

test('/metrics exposes ingested data as cumulative Prometheus series', async () => {
  const s = await start();
  const r = new Recorder({ service: 'shop<script>', instance: 'i1', onWarning: () => {} });
  r.counter('orders').record(3, { kind: '<img src=x onerror=alert(1)>' });
  r.histogram('checkout.duration', { unit: 'ms' }).record(250);
  await post(s.url, JSON.stringify(buildMetricsRequest(r.collect())), { 'content-type': 'application/json' });
  r.counter('orders').record(2, { kind: '<img src=x onerror=alert(1)>' });
  await post(s.url, JSON.stringify(buildMetricsRequest(r.collect())), { 'content-type': 'application/json' });
  const text = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(text, /# TYPE orders_total counter/);
  assert.match(text, /orders_total\{kind="<img src=x onerror=alert\(1\)>",service_instance_id="i1",service_name="shop<script>"\} 5/);
  assert.match(text, /checkout_duration_seconds_bucket\{.*le="0\.25"\} 1/);
  assert.match(text, /checkout_duration_seconds_sum\{.*\} 0\.25/);
  assert.match(text, /solemate_perf_ingest_points_total\{result="accepted"\} 3/);
});

test('openapi.json documents every API route the server has', async () => {
  const s = await start();
  const spec = await json(fetch(`${s.url}/openapi.json`));
  const routes = s.app.printRoutes({ commonPrefix: false });
  for (const p of ['/v1/metrics', '/v1/traces', '/api/metrics', '/api/status', '/api/trends', '/api/series', '/api/metrics/names', '/api/traces', '/api/traces/{traceId}', '/api/loadtests', '/api/loadtests/{id}', '/api/alerts', '/api/alerts/history', '/api/alerts/deliveries', '/api/silences', '/api/silences/{id}', '/api/slos', '/api/uptime', '/api/dashboard', '/api/alerts/rules', '/api/alerts/rules/{alert}', '/api/alerts/{fingerprint}/ack', '/api/session', '/api/stream', '/api/query', '/api/routes', '/api/routes/heatmap', '/api/dashboards', '/api/loadtests/{id}/compare', '/api/optimizations', '/api/optimizations/recommendations', '/api/optimizations/precheck', '/api/optimizations/{id}/rollback', '/metrics', '/healthz']) {
    assert.ok(spec.paths[p], `openapi.json lacks ${p}`);
    assert.ok(routes.includes((p.split('/').pop() as string).replace(/^\{(\w+)\}$/, ':$1')), `server lacks ${p}`);
  }
});

test('the maintenance job rolls finished hours up and applies retention', async () => {
  const hour = 3_600_000;
  const now = Math.floor(Date.now() / hour) * hour + 30 * 60_000;
  const s = await start({}, testConfig({ store: { minuteRetentionHours: 1 } }), { clock: () => now });
  const store = s.store;
  const r = new Recorder({ service: 'shop', onWarning: () => {} });
  for (const ago of [3 * hour, 2 * hour, 10 * 60_000]) {
    r.gauge('queue.depth').record(1);
    await post(s.url, JSON.stringify(buildMetricsRequest(r.collect(now - ago))), { 'content-type': 'application/json' });
  }
  await s.maintain();
  assert.equal(await store.hourWatermark(), Math.floor(now / hour) * hour, 'every hour that ended 5+ minutes ago is rolled up');
  const [series] = await store.listSeries(['queue.depth']);
  assert.equal((await store.readRows([series.id], 0, now, 'hour')).length, 2, 'the two finished hours; the current one is not rolled yet');
  assert.equal((await store.readRows([series.id], 0, now, 'minute')).length, 1, 'minutes older than minuteRetentionHours are gone once rolled up');
});
