// SLOs over stored rollups: good/total per SLI, error budget, burn rates, and the multiwindow
// burn-rate alert firing when errors burn the budget fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertEvaluator } from '../../src/alerts/evaluator.js';
import { CycleReads } from '../../src/alerts/expr.js';
import { DEFAULT_SLOS, sliCounts, sloStatus, type Slo } from '../../src/alerts/slo.js';
import { QueryEngine } from '../../src/query/engine.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { histPoint } from '../store/contract.js';
import { testConfig, tmpDir } from '../helpers.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const MIN = 60_000;

async function storeWith(errorsPerMinute: number, minutes = 60) {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  for (let m = 1; m <= minutes; m++) {
    const t = NOW - m * MIN + 30_000;
    // 100 requests a minute: 90 fast (50 ms), 10 slow (400 ms); errorsPerMinute of them fail
    const ok = histPoint('http.server.request.duration', { 'http.route': '/a', 'http.response.status_code': '200' }, t, [...Array(90 - errorsPerMinute).fill(0.05), ...Array(10).fill(0.4)]);
    const failed = histPoint('http.server.request.duration', { 'http.route': '/a', 'http.response.status_code': '500' }, t, Array(errorsPerMinute).fill(0.05));
    await store.write(errorsPerMinute ? [ok, failed] : [ok]);
  }
  return store;
}

test('availability and latency SLIs, budget and burn rates from stored rollups', async () => {
  const store = await storeWith(5);
  const engine = new QueryEngine(store, testConfig(), () => NOW);
  const reads = new CycleReads(engine, NOW);
  const [availability, latency] = DEFAULT_SLOS as [Slo, Slo];
  assert.deepEqual(await sliCounts(reads, availability, 60 * MIN), { good: 5700, total: 6000 });
  const lat = await sliCounts(reads, latency, 60 * MIN);
  assert.equal(lat.total, 6000);
  assert.equal(lat.good, 5400, '400 ms requests are not within 200 ms');
  const s = await sloStatus(reads, availability);
  assert.equal(s.sli, 0.95);
  assert.ok(Math.abs(s.errorBudget.allowed - 6) < 1e-9, 'a 30-day window with one hour of data: 6000 × 0.001');
  assert.equal(s.errorBudget.spent, 300);
  assert.ok(s.errorBudget.remaining! < -40, 'overspent 50×');
  assert.ok(Math.abs(s.burnRates['1h']! - 50) < 1e-9, '5% bad / 0.1% allowed');
  assert.match(s.derivedFrom, /6000 requests/);
  await store.close();
});

test('fast burn fires the page alert; a healthy service fires nothing', async () => {
  for (const [errors, expectFiring] of [[5, true], [0, false]] as const) {
    const store = await storeWith(errors);
    const engine = new QueryEngine(store, testConfig(), () => NOW);
    const ev = new AlertEvaluator({ engine, store, ruleDirs: [tmpDir()], clock: () => NOW, slos: [DEFAULT_SLOS[0]] });
    const r = await ev.cycle(NOW);
    const fired = r.transitions.map((t) => `${t.instance.labels.slo} ${t.instance.labels.windows} ${t.instance.labels.severity}`);
    if (expectFiring) {
      // 50× burn exceeds every window pair's factor (14.4, 6 and 1); the long windows hold this hour only
      assert.deepEqual(fired.sort(), ['availability 1h/5m critical', 'availability 3d/6h warning', 'availability 6h/30m critical']);
      assert.match(r.transitions.find((t) => t.instance.labels.windows === '1h/5m')!.instance.annotations.summary, /^SLO availability burns its error budget 50\.00× too fast over 1h \(limit 14\.4×\)$/);
    } else assert.deepEqual(fired, []);
    await store.close();
  }
});

test('a percentile SLI counts the hours whose p75 LCP is within the threshold, per page', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  // 6 hours of real users' LCP on two pages; /products/:id is slow in hours 2 and 5 (p75 ≥ 3 s)
  for (let h = 1; h <= 6; h++) {
    const t = NOW - h * 60 * MIN + 30 * MIN;
    const slow = h === 2 || h === 5;
    const product = [...Array(5).fill(1200), ...Array(5).fill(slow ? 3000 : 1600)];
    await store.write([
      { ...histPoint('browser.web_vitals.lcp', { page: '/products/:id', device: 'mobile' }, t, product), unit: 'ms', service: 'shop-web', instance: 'browser' },
      { ...histPoint('browser.web_vitals.lcp', { page: '/cart', device: 'mobile' }, t, Array(10).fill(3500)), unit: 'ms', service: 'shop-web', instance: 'browser' },
    ]);
  }
  const engine = new QueryEngine(store, testConfig(), () => NOW);
  const reads = new CycleReads(engine, NOW);
  const slo: Slo = { name: 'product-lcp', objective: 0.99, window: '6h', sli: { type: 'percentile', metric: 'browser.web_vitals.lcp', quantile: 0.75, thresholdMs: 2000, period: '1h', filters: { tags: { page: '/products/:id' } } } };
  assert.deepEqual(await sliCounts(reads, slo, 6 * 60 * MIN), { good: 4, total: 6 });
  const s = await sloStatus(reads, slo);
  assert.ok(Math.abs(s.sli! - 4 / 6) < 1e-9);
  assert.match(s.derivedFrom, /6 periods of 1h .* good when its p75 ≤ 2000 ms/);
  // the same SLI on the slow page: no good hour
  assert.deepEqual(await sliCounts(reads, { ...slo, sli: { ...slo.sli, filters: { tags: { page: '/cart' } } } } as Slo, 6 * 60 * MIN), { good: 0, total: 6 });
  await store.close();
});
