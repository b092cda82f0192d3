import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpHistogram, fromExplicitBuckets, MAX_BUCKETS, relativeErrorBound } from '../../src/model/histogram.js';
import { mergePoints } from '../../src/model/metrics.js';
import { exactQuantile, logNormal } from '../helpers.js';

const QS = [0.5, 0.9, 0.99, 0.999];

test('quantiles of 200k log-normal samples are within 1% of exact', () => {
  const xs = logNormal(200_000, -3, 1.2);
  const h = new ExpHistogram();
  for (const x of xs) h.record(x);
  const sorted = [...xs].sort((a, b) => a - b);
  for (const q of QS) {
    const exact = exactQuantile(sorted, q);
    const err = Math.abs(h.quantile(q) - exact) / exact;
    assert.ok(err <= 0.01, `q${q}: estimate ${h.quantile(q)} vs exact ${exact} (${(err * 100).toFixed(3)}%)`);
  }
  assert.equal(h.count, xs.length);
  assert.ok(Math.abs(h.sum - xs.reduce((a, b) => a + b, 0)) < 1e-6 * h.sum);
  assert.ok(relativeErrorBound(6) < 0.006);
});

test('merging 60 per-minute snapshots gives the same quantiles as one histogram', () => {
  const xs = logNormal(60_000, 0, 1, 7);
  const whole = new ExpHistogram();
  const merged = new ExpHistogram();
  for (let m = 0; m < 60; m++) {
    const part = new ExpHistogram();
    for (let i = m * 1000; i < (m + 1) * 1000; i++) {
      part.record(xs[i]);
      whole.record(xs[i]);
    }
    merged.merge({ count: part.count, sum: part.sum, min: part.min, max: part.max, hist: part.toData() });
  }
  for (const q of QS) assert.equal(merged.quantile(q), whole.quantile(q));
  assert.equal(merged.count, whole.count);
});

test('zero goes to the zero bucket; empty histogram has no quantile', () => {
  const h = new ExpHistogram();
  assert.ok(Number.isNaN(h.quantile(0.5)));
  h.record(0);
  h.record(0);
  h.record(5);
  assert.equal(h.zeroCount, 2);
  assert.equal(h.quantile(0.5), 0);
  assert.ok(Math.abs(h.quantile(1) - 5) / 5 < 0.006);
});

test('a range wider than MAX_BUCKETS downscales instead of growing without bound', () => {
  const h = new ExpHistogram();
  h.record(1e-9);
  h.record(1e9);
  assert.ok(h.used <= MAX_BUCKETS);
  assert.ok(h.scale < 6);
  assert.equal(h.count, 2);
  assert.ok(Math.abs(h.quantile(1) - 1e9) / 1e9 <= relativeErrorBound(h.scale), 'error bound follows the coarser scale');
});

test('reset keeps allocation but clears data', () => {
  const h = new ExpHistogram();
  for (let i = 1; i < 100; i++) h.record(i);
  const buf = h.counts;
  h.reset();
  assert.equal(h.count, 0);
  assert.equal(h.counts, buf);
  assert.deepEqual(h.toData().counts, []);
});

test('explicit buckets convert with counts preserved and quantiles inside the right bucket', () => {
  const data = fromExplicitBuckets([0.1, 0.5, 1], [10, 30, 50, 10], 0.01, 2);
  const total = data.counts.reduce((a, b) => a + b, 0) + data.zeroCount;
  assert.equal(total, 100);
  const h = new ExpHistogram();
  h.merge({ count: 100, sum: 50, min: 0.01, max: 2, hist: data });
  const p50 = h.quantile(0.5);
  assert.ok(p50 > 0.5 && p50 <= 1.01, `p50 ${p50} should fall in (0.5, 1]`);
  assert.ok(h.quantile(0.05) <= 0.101);
});

test('mergePoints: two deltas of a series become one over both intervals, as the store would keep them', () => {
  const h1 = new ExpHistogram();
  const h2 = new ExpHistogram();
  for (const v of [1, 2, 3]) h1.record(v);
  for (const v of [100, 200]) h2.record(v);
  const base = { metric: 'd', kind: 'histogram' as const, unit: 'ms', service: 's', instance: 'i', attributes: { r: '/' } };
  const a = { ...base, startTime: 0, time: 1000, count: 3, sum: 6, min: 1, max: 3, last: 3, hist: h1.toData() };
  const b = { ...base, startTime: 1000, time: 2000, count: 2, sum: 300, min: 100, max: 200, last: 200, hist: h2.toData() };
  for (const m of [mergePoints(a, b), mergePoints(b, a)]) {
    assert.deepEqual([m.startTime, m.time, m.count, m.sum, m.min, m.max, m.last], [0, 2000, 5, 306, 1, 200, 200]);
    const h = new ExpHistogram();
    h.merge({ count: m.count, sum: m.sum, min: m.min, max: m.max, hist: m.hist! });
    assert.equal(h.counts.slice(0, h.used).reduce((x, y) => x + y, 0) + h.zeroCount, 5);
    assert.ok(Math.abs(h.quantile(0.5) - 3) / 3 < 0.01, `median ${h.quantile(0.5)}`);
  }
  assert.equal(a.count, 3, 'the inputs are left as they were');
  assert.equal(a.hist!.counts.reduce((x, y) => x + y, 0) + a.hist!.zeroCount, 3);
});
