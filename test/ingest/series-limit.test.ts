import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OVERFLOW, SeriesLimiter } from '../../src/ingest/series-limit.js';
import type { MetricPoint } from '../../src/model/metrics.js';

const point = (metric: string, attributes: Record<string, string>, sum = 1): MetricPoint => ({ metric, kind: 'counter', unit: '', service: 's', instance: 'i', attributes, startTime: 0, time: 0, count: 1, sum, min: 0, max: 0, last: 0 });

test('past seriesPerMetric, new series fold into one overflow series and the totals stay right', () => {
  const limiter = new SeriesLimiter({ seriesPerMetric: 3, series: 100, windowMs: 60_000 });
  const points = Array.from({ length: 10 }, (_, i) => point('logins', { 'user.id': `u${i}`, region: 'eu' }, i + 1));
  const { points: out, rejected, overflows } = limiter.admit(points, 1000);
  assert.equal(rejected, 0);
  assert.equal(out.length, 10);
  assert.deepEqual(out.slice(0, 3).map((p) => p.attributes['user.id']), ['u0', 'u1', 'u2']);
  assert.ok(out.slice(3).every((p) => p.attributes[OVERFLOW] === 'true' && Object.keys(p.attributes).length === 1));
  assert.equal(out.reduce((s, p) => s + p.sum, 0), 55, 'nothing lost: the overflow series carries the rest');
  assert.deepEqual(overflows, [{ metric: 'logins', service: 's', reason: 'series_per_metric', points: 7, attribute: 'user.id', distinct: 3 }]);
  assert.equal(points[5].attributes['user.id'], 'u5', 'the given points are not changed');
  // a known series keeps being admitted as it is; another metric has its own budget
  const again = limiter.admit([point('logins', { 'user.id': 'u1', region: 'eu' }), point('orders', { shop: 'a' })], 2000);
  assert.deepEqual(again.points.map((p) => p.attributes), [{ 'user.id': 'u1', region: 'eu' }, { shop: 'a' }]);
  assert.deepEqual(again.overflows, []);
  assert.equal(limiter.activeSeries, 5, 'three series, the overflow series, and orders');
});

test('past the total, new series are rejected; series idle for the window free their place', () => {
  const limiter = new SeriesLimiter({ seriesPerMetric: 100, series: 4, windowMs: 60_000 });
  const first = limiter.admit(['a', 'b', 'c', 'd', 'e', 'f'].map((m) => point(m, {})), 0);
  assert.equal(first.points.length, 4);
  assert.equal(first.rejected, 2);
  assert.deepEqual(first.overflows.map((o) => [o.metric, o.reason, o.points]), [['e', 'series_total', 1], ['f', 'series_total', 1]]);
  // a, b stay active; c, d go idle past the window and make room
  limiter.admit([point('a', {}), point('b', {})], 50_000);
  const later = limiter.admit([point('e', {}), point('f', {}), point('g', {})], 70_000);
  assert.equal(later.points.length, 2);
  assert.equal(later.rejected, 1);
  assert.equal(limiter.activeSeries, 4);
});

test('each service has its own budget per metric, and past seriesPerService its new series are rejected', () => {
  const limiter = new SeriesLimiter({ seriesPerMetric: 3, seriesPerService: 5, series: 100, windowMs: 60_000 });
  const from = (service: string, metric: string, user: string): MetricPoint => ({ ...point(metric, { 'user.id': user }), service });
  // the flooding service folds its own series...
  const flood = limiter.admit(Array.from({ length: 10 }, (_, i) => from('bad', 'http.duration', `u${i}`)), 1000);
  assert.deepEqual(flood.overflows.map((o) => [o.service, o.metric, o.reason, o.points]), [['bad', 'http.duration', 'series_per_metric', 7]]);
  // ...and another service's series of the same metric are its own, not folded
  const good = limiter.admit([from('good', 'http.duration', 'a'), from('good', 'http.duration', 'b')], 1000);
  assert.deepEqual(good.overflows, []);
  assert.deepEqual(good.points.map((p) => p.attributes['user.id']), ['a', 'b']);
  // 'bad' holds 4 (3 and its overflow series); one more metric's first series is its 5th, then rejected
  const more = limiter.admit([from('bad', 'other', 'x'), from('bad', 'other', 'y'), from('bad', 'third', 'z')], 2000);
  assert.equal(more.points.length, 1);
  assert.equal(more.rejected, 2);
  assert.deepEqual(more.overflows.map((o) => [o.service, o.metric, o.reason, o.points]), [['bad', 'other', 'series_per_service', 1], ['bad', 'third', 'series_per_service', 1]]);
  assert.equal(limiter.admit([from('good', 'other', 'x')], 2000).points.length, 1, 'the other service still has room');
  // idle series free their service's places too
  assert.equal(limiter.admit([from('bad', 'third', 'z')], 70_000).points.length, 1);
  assert.equal(limiter.activeSeries, 1);
});
