// The stock OpenTelemetry JS exporters are the clients here: what any OTel-instrumented app sends.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MeterProvider, PeriodicExportingMetricReader, AggregationType } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { createServer, type PerformanceServer } from '../../src/server/app.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { json, testConfig } from '../helpers.js';

const servers: PerformanceServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

for (const [name, Exporter] of [
  ['exporter-metrics-otlp-http (JSON)', JsonExporter],
  ['exporter-metrics-otlp-proto (protobuf)', ProtoExporter],
] as const) {
  test(`${name}: cumulative counters and histograms arrive as correct deltas`, async () => {
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const s = await createServer({ config: testConfig(), store, env: { SOLEMATE_PERF_INGEST_TOKEN: 't0k' } });
    servers.push(s);
    const reader = new PeriodicExportingMetricReader({ exporter: new Exporter({ url: `${s.url}/v1/metrics`, headers: { authorization: 'Bearer t0k' } }), exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'otel-app', 'service.instance.id': 'pod-1' }),
      readers: [reader],
      views: [
        { instrumentName: 'exp.latency', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
        // OpenTelemetry semconv's advisory boundaries for http.server.request.duration (seconds)
        { instrumentName: 'http.server.request.duration', aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5] } } },
      ],
    });
    const meter = provider.getMeter('test');
    const counter = meter.createCounter('orders');
    const explicit = meter.createHistogram('http.server.request.duration', { unit: 's' });
    const exp = meter.createHistogram('exp.latency', { unit: 's' });
    const attrs = { 'http.route': '/x', 'http.request.method': 'GET', 'http.response.status_code': 200 };
    for (let i = 1; i <= 50; i++) {
      counter.add(2, { kind: 'web' });
      explicit.record(i / 1000, attrs);
      exp.record(i / 1000);
    }
    await reader.forceFlush();
    for (let i = 51; i <= 100; i++) {
      counter.add(2, { kind: 'web' });
      explicit.record(i / 1000, attrs);
      exp.record(i / 1000);
    }
    await reader.forceFlush();
    await provider.shutdown();

    assert.equal(s.stats.requests.ok, 3, 'two flushes and the shutdown export');
    assert.equal(s.stats.rejectedPoints, 0);
    const m = await json(fetch(`${s.url}/api/metrics?service=otel-app`));
    assert.equal(m.throughput.requests, 100, 'cumulative histograms were not double counted');
    assert.ok(m.responseTime.p50 > 25 && m.responseTime.p50 <= 50.5, `p50 ${m.responseTime.p50} within the (25, 50] ms explicit bucket`);
    const [orders] = await store.listSeries(['orders']);
    assert.equal(orders.service, 'otel-app');
    assert.equal(orders.instance, 'pod-1');
    const rows = await store.readRows([orders.id], 0, Date.now() + 60_000, 'minute');
    assert.equal(rows.reduce((a, r) => a + r.sum, 0), 200);
    const t = await json(fetch(`${s.url}/api/trends?metric=exp.latency&period=1h&statistic=p99`));
    const p99 = t.dataPoints.at(-1).value;
    assert.ok(Math.abs(p99 - 0.099) / 0.099 < 0.01, `exponential p99 ${p99} within 1% of 0.099`);
  });
}
