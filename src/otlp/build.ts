// MetricPoint[] → ExportMetricsServiceRequest in the OTLP/JSON shape (delta temporality).
// The same object is sent as JSON or encoded to protobuf, so both encodings carry the same data.
import type { MetricPoint } from '../model/metrics.js';

const SCOPE = { name: 'solemate-performance', version: '0.1.0' };
const DELTA = 1;

export function nanos(ms: number): string {
  return (BigInt(Math.trunc(ms)) * 1_000_000n).toString();
}

function attrs(a: Record<string, string>): { key: string; value: { stringValue: string } }[] {
  return Object.keys(a).map((key) => ({ key, value: { stringValue: a[key] } }));
}

export function buildMetricsRequest(points: MetricPoint[]): object {
  const resources = new Map<string, Map<string, MetricPoint[]>>();
  for (const p of points) {
    const rk = `${p.service}\u0000${p.instance}`;
    let metrics = resources.get(rk);
    if (!metrics) resources.set(rk, (metrics = new Map()));
    const list = metrics.get(p.metric);
    if (list) list.push(p);
    else metrics.set(p.metric, [p]);
  }
  const resourceMetrics = [];
  for (const metrics of resources.values()) {
    const first = metrics.values().next().value as MetricPoint[];
    const resource = { attributes: attrs({ 'service.name': first[0].service, 'service.instance.id': first[0].instance }) };
    const out = [];
    for (const [name, list] of metrics) out.push(buildMetric(name, list));
    resourceMetrics.push({ resource, scopeMetrics: [{ scope: SCOPE, metrics: out }] });
  }
  return { resourceMetrics };
}

function buildMetric(name: string, list: MetricPoint[]): object {
  const { kind, unit, description } = list[0];
  const base = { name, unit, description: description ?? '' };
  if (kind === 'counter') {
    const dataPoints = list.map((p) => ({ attributes: attrs(p.attributes), startTimeUnixNano: nanos(p.startTime), timeUnixNano: nanos(p.time), asDouble: p.sum }));
    return { ...base, sum: { dataPoints, aggregationTemporality: DELTA, isMonotonic: true } };
  }
  if (kind === 'gauge') {
    const dataPoints = list.map((p) => ({ attributes: attrs(p.attributes), startTimeUnixNano: nanos(p.startTime), timeUnixNano: nanos(p.time), asDouble: p.last }));
    return { ...base, gauge: { dataPoints } };
  }
  const dataPoints = list.map((p) => {
    const h = p.hist ?? { scale: 0, zeroCount: 0, offset: 0, counts: [] };
    return {
      attributes: attrs(p.attributes),
      startTimeUnixNano: nanos(p.startTime),
      timeUnixNano: nanos(p.time),
      count: String(p.count),
      sum: p.sum,
      min: p.min,
      max: p.max,
      scale: h.scale,
      zeroCount: String(h.zeroCount),
      positive: { offset: h.offset, bucketCounts: h.counts.map(String) },
    };
  });
  return { ...base, exponentialHistogram: { dataPoints, aggregationTemporality: DELTA } };
}
