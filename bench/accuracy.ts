// Quantile accuracy on 1M log-normal samples, directly and after merging 60 per-minute snapshots,
// beside the OpenTelemetry SDK's default exponential histogram (max 160 buckets, scale chosen by the SDK).
//   node --import tsx bench/accuracy.ts
import { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality, AggregationType, DataPointType, type ExponentialHistogram } from '@opentelemetry/sdk-metrics';
import { ExpHistogram, bucketRepresentative } from '../src/model/histogram.js';
import { exactQuantile, logNormal } from '../test/helpers.js';
import { fmt, machine, save, table } from './lib.js';

const QS = [0.5, 0.9, 0.99, 0.999];
const xs = logNormal(1_000_000, Math.log(0.05), 1.0, 11); // median 50 ms, long tail (seconds)
const sorted = [...xs].sort((a, b) => a - b);
const exact = QS.map((q) => exactQuantile(sorted, q));

const whole = new ExpHistogram();
for (const x of xs) whole.record(x);
const merged = new ExpHistogram();
for (let m = 0; m < 60; m++) {
  const part = new ExpHistogram();
  const end = Math.floor(((m + 1) * xs.length) / 60);
  for (let i = Math.floor((m * xs.length) / 60); i < end; i++) part.record(xs[i]);
  merged.merge({ count: part.count, sum: part.sum, min: part.min, max: part.max, hist: part.toData() });
}

// OpenTelemetry's exponential histogram with its defaults, read back through a metric reader.
const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader], views: [{ instrumentName: 'x', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }] });
const otelHist = provider.getMeter('b').createHistogram('x');
for (const x of xs) otelHist.record(x);
await reader.forceFlush();
const dp = exporter.getMetrics()[0].scopeMetrics[0].metrics[0];
if (dp.dataPointType !== DataPointType.EXPONENTIAL_HISTOGRAM) throw new Error('expected an exponential histogram');
const v = dp.dataPoints[0].value as ExponentialHistogram;
const otel = new ExpHistogram(v.scale);
otel.merge({ count: v.count, sum: v.sum ?? 0, min: v.min ?? 0, max: v.max ?? 0, hist: { scale: v.scale, zeroCount: v.zeroCount, offset: v.positive.offset, counts: v.positive.bucketCounts } });
await provider.shutdown();

const err = (h: ExpHistogram) => QS.map((q, i) => Math.abs(h.quantile(q) - exact[i]) / exact[i]);
const rows = [
  ['solemate, one histogram', ...err(whole)],
  ['solemate, 60 snapshots merged', ...err(merged)],
  [`OTel SDK default (scale ${v.scale}, ${v.positive.bucketCounts.length} buckets)`, ...err(otel)],
] as [string, ...number[]][];
save('accuracy', { exact, rows, buckets: whole.toData().counts.length, otelScale: v.scale, representativeCheck: bucketRepresentative(0, 6) });
console.log(`machine: ${machine()}\n1,000,000 log-normal samples (median 50 ms, σ = 1); relative error vs exact nearest-rank quantiles\n`);
console.log(table(['histogram', ...QS.map((q) => `p${q * 100}`)], rows.map(([n, ...e]) => [n, ...e.map((x) => `${fmt(x * 100, 3)}%`)])));
console.log(`\nsolemate buckets in use: ${whole.toData().counts.length} (scale 6); worst error: ${fmt(Math.max(...err(whole), ...err(merged)) * 100, 3)}% (target ≤ 1%)`);
