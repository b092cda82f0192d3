// The one limit table, as the two readers apply it (config `limits`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpMetricsReader } from '../../src/ingest/otlp-metrics.js';
import { readTraces, SPAN_LIMITS } from '../../src/ingest/otlp-traces.js';

const NOW = Date.UTC(2026, 11, 7, 12);
const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
const attr = (k: string, v: string) => ({ key: k, value: { stringValue: v } });
const many = (n: number) => Array.from({ length: n }, (_, i) => attr(`detector.${i}`, 'x'));

test('a resource with too many attributes loses the extras, not the request; service and instance are kept', () => {
  const resource = { attributes: [...many(200), attr('service.name', 'shop'), attr('service.instance.id', 'pod-1')] };
  const r = new OtlpMetricsReader({ limits: { resourceAttributes: 128 } }).read({ resourceMetrics: [{ resource, scopeMetrics: [{ metrics: [{ name: 'up', gauge: { dataPoints: [{ timeUnixNano: ns(NOW), asDouble: 1 }] } }] }] }] }, NOW);
  assert.equal(r.points.length, 1);
  assert.equal(r.rejected, 0);
  assert.equal(r.points[0].service, 'shop');
  assert.equal(r.points[0].instance, 'pod-1');
  assert.match(r.errors.join(), /resource has 202 attributes; 72 past limits.resourceAttributes \(128\) were dropped/);
});

test('a point past the attribute limits is rejected with the setting named; a histogram whose count disagrees with its buckets too', () => {
  const dp = (attributes: unknown[]) => ({ timeUnixNano: ns(NOW), asDouble: 1, attributes });
  const hist = (count: number) => ({ timeUnixNano: ns(NOW), count: String(count), sum: 1, explicitBounds: [1, 2], bucketCounts: ['1', '1', '1'] });
  const r = new OtlpMetricsReader({ limits: { attributes: 4, attributeValueLength: 10 } }).read(
    { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: [dp(many(4)), dp(many(5)), dp([attr('k', 'x'.repeat(11))])] } }, { name: 'h', histogram: { aggregationTemporality: 1, dataPoints: [hist(3), hist(100)] } }] }] }] },
    NOW,
  );
  assert.equal(r.points.length, 2);
  assert.equal(r.rejected, 3);
  const errors = r.errors.join('\n');
  assert.match(errors, /more than 4 attributes \(limits.attributes\)/);
  assert.match(errors, /longer than 10 characters \(limits.attributeValueLength\)/);
  assert.match(errors, /h: count 100 disagrees with its buckets, which hold 3/);
});

test('spans: extra attributes dropped and long values cut (counted), spans per trace and the time window enforced', () => {
  const traceId = 'a'.repeat(32);
  const span = (i: number, over: Record<string, unknown> = {}) => ({ traceId, spanId: (i + 1).toString(16).padStart(16, '0'), name: 'GET /x', startTimeUnixNano: ns(NOW), endTimeUnixNano: ns(NOW + 5), ...over });
  const limits = { ...SPAN_LIMITS, attributes: 3, attributeValueLength: 8, spansPerTrace: 4 };
  const r = readTraces(
    {
      resourceSpans: [
        {
          resource: { attributes: [attr('service.name', 'x'.repeat(20))] },
          scopeSpans: [{ spans: [span(0, { attributes: many(10), name: 'n'.repeat(100) }), span(1), span(2, { startTimeUnixNano: ns(0), endTimeUnixNano: ns(1) }), span(3), span(4), span(5)] }],
        },
      ],
    },
    limits,
    NOW,
  );
  assert.equal(r.spans.length, 4, 'four of the trace (one of the six is from 1970)');
  assert.equal(r.rejected, 2);
  assert.equal(Object.keys(r.spans[0].attributes).length, 3);
  assert.equal(r.spans[0].name, 'nnnnnnnn');
  assert.equal(r.spans[0].service, 'xxxxxxxx');
  assert.equal(r.dropped, 7);
  assert.equal(r.cut, 2, 'the span name and the service name');
  const errors = r.errors.join('\n');
  assert.match(errors, /outside the accepted range/);
  assert.match(errors, /more than 4 spans in this request \(limits.spansPerTrace\)/);
  assert.match(errors, /7 span attributes past limits.attributes \(3\) were dropped and 2 values or names cut/);
});
