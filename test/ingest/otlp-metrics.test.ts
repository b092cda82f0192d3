import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpMetricsReader } from '../../src/ingest/otlp-metrics.js';
import { ExpHistogram } from '../../src/model/histogram.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
const resource = { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }, { key: 'service.instance.id', value: { stringValue: 'i-1' } }] };
const req = (metrics: unknown[]) => ({ resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 't' }, metrics }] }] });
const attr = (k: string, v: string) => ({ key: k, value: { stringValue: v } });

test('cumulative monotonic sums become deltas; a reset (new start time) starts over', () => {
  const r = new OtlpMetricsReader();
  const sum = (start: number, time: number, v: number) => req([{ name: 'reqs', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: [attr('route', '/a')], startTimeUnixNano: ns(start), timeUnixNano: ns(time), asInt: String(v) }] } }]);
  const a = r.read(sum(NOW - 60_000, NOW - 30_000, 10), NOW);
  const b = r.read(sum(NOW - 60_000, NOW - 20_000, 25), NOW);
  const c = r.read(sum(NOW - 15_000, NOW - 10_000, 4), NOW);
  assert.deepEqual([a.points[0].sum, b.points[0].sum, c.points[0].sum], [10, 15, 4]);
  assert.equal(b.points[0].startTime, NOW - 30_000);
  assert.equal(a.points[0].service, 'shop');
  assert.equal(a.points[0].instance, 'i-1');
  assert.deepEqual(a.points[0].attributes, { route: '/a' });
});

test('cumulative exponential histograms become delta buckets', () => {
  const r = new OtlpMetricsReader();
  const h1 = new ExpHistogram();
  [0.1, 0.2].forEach((v) => h1.record(v));
  const h2 = new ExpHistogram();
  [0.1, 0.2, 0.4, 0.4].forEach((v) => h2.record(v));
  const point = (h: ExpHistogram, time: number) => {
    const d = h.toData();
    return req([{ name: 'lat', unit: 's', exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ startTimeUnixNano: ns(NOW - 60_000), timeUnixNano: ns(time), count: String(h.count), sum: h.sum, scale: d.scale, zeroCount: '0', positive: { offset: d.offset, bucketCounts: d.counts.map(String) }, min: h.min, max: h.max }] } }]);
  };
  r.read(point(h1, NOW - 20_000), NOW);
  const { points } = r.read(point(h2, NOW - 10_000), NOW);
  assert.equal(points[0].count, 2);
  assert.ok(Math.abs(points[0].sum - 0.8) < 1e-9);
  const delta = new ExpHistogram();
  delta.merge({ count: 2, sum: 0.8, min: points[0].min, max: points[0].max, hist: points[0].hist! });
  assert.ok(Math.abs(delta.quantile(0.5) - 0.4) / 0.4 < 0.01, 'only the two new 0.4 values remain');
});

test('explicit-bucket histograms are accepted and finer scales are downscaled to ours', () => {
  const r = new OtlpMetricsReader();
  const { points, rejected } = r.read(
    req([
      { name: 'lat', unit: 'ms', histogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: ns(NOW), count: '4', sum: 40, bucketCounts: ['1', '2', '1'], explicitBounds: [5, 10], min: 1, max: 20 }] } },
      { name: 'fine', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: ns(NOW), count: '1', sum: 1, scale: 20, positive: { offset: -1, bucketCounts: ['1'] } }] } },
    ]),
    NOW,
  );
  assert.equal(rejected, 0);
  assert.equal(points[0].count, 4);
  assert.equal(points[1].hist?.scale, 6);
  assert.equal(points[1].count, 1);
});

test('bad points are rejected one by one with a reason; good ones in the same request are kept', () => {
  const r = new OtlpMetricsReader();
  const res = r.read(
    req([
      { name: 'ok', gauge: { dataPoints: [{ timeUnixNano: ns(NOW), asDouble: 1.5 }, { timeUnixNano: ns(NOW), asDouble: 'NaN' }, { asDouble: 1 }] } },
      { name: 'bad name!', gauge: { dataPoints: [{ timeUnixNano: ns(NOW), asDouble: 1 }] } },
      { name: 'neg', sum: { isMonotonic: true, aggregationTemporality: 1, dataPoints: [{ timeUnixNano: ns(NOW), asDouble: -1 }] } },
      { name: 'sum', summary: { dataPoints: [{ timeUnixNano: ns(NOW), count: '1', sum: 1 }] } },
      { name: 'old', gauge: { dataPoints: [{ timeUnixNano: ns(NOW - 500 * 86_400_000), asDouble: 1 }] } },
      { name: 'eh', histogram: { dataPoints: [{ timeUnixNano: ns(NOW), count: '2', bucketCounts: ['1', '1'], explicitBounds: [1, 2] }] } },
    ]),
    NOW,
  );
  assert.equal(res.points.length, 1);
  assert.equal(res.points[0].last, 1.5);
  assert.equal(res.rejected, 7);
  const all = res.errors.join('\n');
  for (const why of ['finite number', 'timeUnixNano is required', 'invalid', 'negative', 'summary', 'outside the accepted range', 'one more entry']) assert.match(all, new RegExp(why));
});

test('a body that is not an export request throws (the server answers 400)', () => {
  const r = new OtlpMetricsReader();
  assert.throws(() => r.read('nope'), TypeError);
  assert.throws(() => r.read({ resourceMetrics: {} }), TypeError);
  assert.throws(() => r.read({ resourceMetrics: [{ scopeMetrics: [{ metrics: 5 }] }] }), TypeError);
  assert.deepEqual(r.read({}).points, []);
});
