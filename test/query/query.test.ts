import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryEngine } from '../../src/query/engine.js';
import { computeStatus } from '../../src/query/status.js';
import { computePerformanceMetrics } from '../../src/query/metrics.js';
import { parseDuration, parseTime } from '../../src/query/filters.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { MINUTE } from '../../src/store/rows.js';
import { ExpHistogram } from '../../src/model/histogram.js';
import type { MetricPoint } from '../../src/model/metrics.js';
import { testConfig } from '../helpers.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

function requests(time: number, route: string, status: string, values: number[]): MetricPoint {
  const h = new ExpHistogram();
  values.forEach((v) => h.record(v));
  return { metric: 'http.server.request.duration', kind: 'histogram', unit: 's', service: 'shop', instance: 'a', attributes: { 'http.route': route, 'http.request.method': 'GET', 'http.response.status_code': status }, startTime: time - 10_000, time, count: h.count, sum: h.sum, min: h.min, max: h.max, last: 0, hist: h.toData() };
}
const gauge = (metric: string, time: number, v: number): MetricPoint => ({ metric, kind: 'gauge', unit: '1', service: 'shop', instance: 'a', attributes: {}, startTime: time, time, count: 1, sum: v, min: v, max: v, last: v });

async function engineWith(points: MetricPoint[]) {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  await store.write(points);
  return { store, engine: new QueryEngine(store, testConfig(), () => NOW) };
}

test('getPerformanceMetrics computes response time, throughput, errors and resources from stored data', async () => {
  const values = Array.from({ length: 100 }, (_, i) => (i + 1) / 1000); // 1..100 ms
  const { store, engine } = await engineWith([
    requests(NOW - 4 * MINUTE, '/p/:id', '200', values.slice(0, 50)),
    requests(NOW - 2 * MINUTE, '/p/:id', '200', values.slice(50)),
    requests(NOW - 2 * MINUTE, '/p/:id', '503', [0.5, 0.5]),
    gauge('process.cpu.utilization', NOW - 3 * MINUTE, 0.2),
    gauge('process.cpu.utilization', NOW - 1 * MINUTE, 0.4),
    gauge('solemate.process.memory.utilization', NOW - MINUTE, 0.1),
  ]);
  const m = await engine.getPerformanceMetrics();
  assert.equal(m.throughput.requests, 102);
  assert.equal(m.throughput.windowSeconds, 300);
  assert.ok(Math.abs(m.throughput.requestsPerSecond - 102 / 300) < 1e-3);
  assert.equal(m.errorRate.count, 2);
  assert.ok(Math.abs((m.errorRate.percentage ?? 0) - (2 / 102) * 100) < 1e-3);
  assert.ok(Math.abs((m.responseTime.p50 ?? 0) - 51) / 51 < 0.01, `p50 ${m.responseTime.p50}`);
  assert.ok(Math.abs((m.responseTime.p95 ?? 0) - 96) / 96 < 0.01, `p95 ${m.responseTime.p95}`);
  assert.ok(Math.abs((m.responseTime.average ?? 0) - (5050 / 1000 + 1) / 102 * 1000) < 0.01);
  assert.equal(m.resourceUsage.cpu, 30);
  assert.equal(m.resourceUsage.memory, 10);
  assert.equal(m.resourceUsage.disk, null);

  const only503 = await engine.getPerformanceMetrics({ status: '5xx' });
  assert.equal(only503.throughput.requests, 2);
  assert.equal((await engine.getPerformanceMetrics({ route: '/nope' })).responseTime.p95, null);
  assert.equal((await engine.getPerformanceMetrics({ from: '-3m' })).throughput.requests, 52);
  await store.close();
});

test('status is computed from thresholds: healthy, warning at 80%, critical at 100%, unknown without data', () => {
  const config = testConfig({ monitoring: { thresholds: { responseTime: 100 } } });
  const base = computePerformanceMetrics({ from: 0, to: 60_000, requestSeries: [], requestRows: [], cpuRows: [], memoryRows: [], diskRows: [] });
  assert.equal(computeStatus(base, config, 0).status, 'unknown');
  const with_ = (avg: number) => computeStatus({ ...base, responseTime: { ...base.responseTime, average: avg } }, config, 0);
  assert.equal(with_(50).status, 'healthy');
  assert.equal(with_(85).status, 'warning');
  assert.equal(with_(100).status, 'critical');
  assert.equal(with_(85).checks.find((c) => c.name === 'responseTime')?.warningAt, 80);
});

test('trends: rising latency is degrading, flat noise is stable, rising throughput is improving', async () => {
  const points: MetricPoint[] = [];
  let seed = 1;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.002;
  for (let m = 60; m >= 1; m--) {
    const t = NOW - m * MINUTE + 1000;
    points.push(requests(t, '/up', '200', [0.05 + (60 - m) * 0.001 + noise()]));
    points.push(requests(t, '/flat', '200', [0.05 + noise()]));
    points.push({ metric: 'orders', kind: 'counter', unit: '{order}', service: 'shop', instance: 'a', attributes: {}, startTime: t, time: t, count: 1, sum: 10 + (60 - m), min: 0, max: 0, last: 0 });
  }
  const { store, engine } = await engineWith(points);
  const up = await engine.getPerformanceTrends('http.server.request.duration', '1h', { filters: { route: '/up' } });
  assert.equal(up.trend, 'degrading');
  assert.ok(up.change > 50, `change ${up.change}`);
  assert.ok((up.pValue ?? 1) < 0.05);
  assert.equal(up.statistic, 'p95');
  const flat = await engine.getPerformanceTrends('http.server.request.duration', '1h', { filters: { route: '/flat' } });
  assert.equal(flat.trend, 'stable');
  const orders = await engine.getPerformanceTrends('orders', '1h');
  assert.equal(orders.statistic, 'rate');
  assert.equal(orders.trend, 'improving');
  await assert.rejects(engine.getPerformanceTrends('missing', '1h'), RangeError);
  await assert.rejects(engine.getPerformanceTrends('orders', 'yesterday'), RangeError);
  await store.close();
});

test('long ranges read hourly rollups plus the minutes after the watermark', async () => {
  const points: MetricPoint[] = [];
  for (let m = 0; m < 8 * 60; m++) points.push(requests(NOW - 8 * 3_600_000 + m * MINUTE + 1000, '/a', '200', [0.01]));
  const { store, engine } = await engineWith(points);
  await store.rollup(NOW);
  const [s] = await store.listSeries(['http.server.request.duration']);
  const rows = await engine.readRange([s.id], NOW - 7 * 3_600_000 - 30 * MINUTE, NOW);
  const total = rows.reduce((a, r) => a + r.count, 0);
  assert.equal(total, 7 * 60 + 30);
  assert.ok(rows.length < 100, `read ${rows.length} rows instead of 450 minutes`);
  await store.close();
});

test('time and period parsing', () => {
  assert.equal(parseTime('-15m', NOW, 0), NOW - 15 * MINUTE);
  assert.equal(parseTime('2026-11-25T11:00:00Z', NOW, 0), NOW - 3_600_000);
  assert.equal(parseTime(undefined, NOW, 7), 7);
  assert.throws(() => parseTime('soon', NOW, 0), RangeError);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.throws(() => parseDuration('0h'), RangeError);
});
