// The /metrics page's view: streamed in pieces that add up to the whole text, and a series cap that
// counts what it leaves out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpHistogram } from '../../src/model/histogram.js';
import type { MetricPoint } from '../../src/model/metrics.js';
import { PrometheusView } from '../../src/server/prometheus.js';

function histogram(user: string, ...values: number[]): MetricPoint {
  const h = new ExpHistogram();
  for (const v of values) h.record(v);
  return { metric: 'http.server.request.duration', kind: 'histogram', unit: 's', service: 'shop', instance: 'a', attributes: { 'user.id': user }, startTime: 0, time: 1000, count: h.count, sum: h.sum, min: h.min, max: h.max, last: 0, hist: h.toData() };
}

test('the text comes in pieces of whole lines that add up to render(); past maxSeries points are counted, not shown', () => {
  const view = new PrometheusView(300);
  view.add(Array.from({ length: 400 }, (_, i) => histogram(`u${i}`, 0.01 * (1 + (i % 50)), 0.2)));
  view.add([histogram('u7', 0.03)]);
  assert.equal(view.dropped, 100, 'the 100 points of the 100 series past the cap');
  const pieces = [...view.chunks(['# self', 'x_total 1'])];
  assert.ok(pieces.length > 1, `${pieces.length} pieces`);
  for (const p of pieces) assert.ok(p.endsWith('\n'), 'each piece ends a line');
  const text = pieces.join('');
  assert.equal(text, view.render(['# self', 'x_total 1']));
  assert.equal(text.match(/^http_server_request_duration_seconds_count/gm)?.length, 300);
  assert.match(text, /^http_server_request_duration_seconds_count\{service_instance_id="a",service_name="shop",user_id="u7"\} 3$/m);
  assert.doesNotMatch(text, /user_id="u300"/);
  assert.ok(text.endsWith('x_total 1\n'));
});
