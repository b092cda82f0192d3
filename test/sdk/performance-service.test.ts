import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { PerformanceService } from '../../src/sdk/performance-service.js';
import { PerfError } from '../../src/errors.js';
import { createServer } from '../../src/server/app.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { testConfig } from '../helpers.js';

async function server() {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  return createServer({ config: testConfig(), store });
}

test('the PRD methods record gauges, timings (ms histograms), counters and histograms', async () => {
  const perf = new PerformanceService({ config: { monitoring: { enabled: false } }, service: 'svc', handleSignals: false });
  perf.recordMetric('queue.depth', 7, { queue: 'mail' });
  perf.recordTiming('checkout', 120, { channel: 'web' });
  perf.recordTiming('checkout', 80, { channel: 'web' });
  perf.recordCounter('orders', 2);
  perf.recordHistogram('cart.items', 3);
  perf.recordCounter('orders', -1); // invalid: counters only go up
  const points = perf.tick();
  const by = Object.fromEntries(points.map((p) => [p.metric, p]));
  assert.equal(by['queue.depth'].kind, 'gauge');
  assert.equal(by['queue.depth'].last, 7);
  assert.equal(by['checkout.duration'].kind, 'histogram');
  assert.equal(by['checkout.duration'].unit, 'ms');
  assert.equal(by['checkout.duration'].count, 2);
  assert.equal(by['checkout.duration'].sum, 200);
  assert.equal(by.orders.sum, 2);
  assert.equal(by['cart.items'].kind, 'histogram');
  assert.equal(by['solemate.sdk.dropped'].attributes.reason, 'invalid_value');
  assert.equal(perf.exporter, undefined, 'monitoring disabled: nothing is sent');
  await perf.shutdown();
});

test('flush sends to the server and the get* methods read it back', async (t) => {
  const s = await server();
  t.after(() => s.close());
  const perf = new PerformanceService({ config: { sdk: { endpoint: s.url } }, service: 'svc', handleSignals: false, runtimeMetrics: false });
  t.after(() => perf.shutdown(100));
  perf.recordCounter('orders', 5);
  perf.recorder.histogram('http.server.request.duration', { unit: 's' }).record(0.05, { 'http.route': '/a', 'http.request.method': 'GET', 'http.response.status_code': '200' });
  await perf.flush();
  const m = await perf.getPerformanceMetrics({ service: 'svc' });
  assert.equal(m.throughput.requests, 1);
  assert.ok(Math.abs((m.responseTime.p50 ?? 0) - 50) / 50 < 0.01);
  const trend = await perf.getPerformanceTrends('orders', '1h');
  assert.equal(trend.statistic, 'rate');
  assert.equal((await perf.getPerformanceStatus()).checks.length, 4);
  await assert.rejects(perf.getPerformanceTrends('orders', 'whenever'), (e: PerfError) => e.code === 'PERF_ERR_QUERY');
  await s.close();
  await assert.rejects(perf.getPerformanceMetrics(), (e: PerfError) => e.code === 'PERF_ERR_UNREACHABLE' && /solemate-perf start/.test(e.message));
});

test('with the server down, export losses are counted and reported as self-metrics', async () => {
  const s = await server();
  await s.close(); // nobody listens there now
  const perf = new PerformanceService({ config: { sdk: { endpoint: s.url, maxBufferedPoints: 1 } }, service: 'svc', handleSignals: false, runtimeMetrics: false });
  perf.exporter!['o'].baseBackoffMs = 1;
  for (let i = 0; i < 3; i++) {
    perf.recordCounter('orders', 1, { n: String(i) });
    perf.recordCounter('other', 1, { n: String(i) });
    perf.tick();
  }
  assert.ok(perf.recorder.dropped.export_buffer_full >= 2, `dropped ${perf.recorder.dropped.export_buffer_full}`);
  const self = perf.tick().find((p) => p.metric === 'solemate.sdk.dropped' && p.attributes.reason === 'export_buffer_full');
  assert.ok(self && self.sum >= 2);
  await perf.shutdown(100);
});

test('SIGTERM flushes what was recorded, then the process exits as it would have', async (t) => {
  const s = await server();
  t.after(() => s.close());
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/sigterm-app.ts', s.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', () => resolve()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  child.kill('SIGTERM');
  assert.equal(await exited, 'SIGTERM');
  const [series] = await s.store.listSeries(['jobs.done']);
  const rows = await s.store.readRows([series.id], 0, Date.now() + 60_000, 'minute');
  assert.equal(rows.reduce((a, r) => a + r.sum, 0), 25);
});
