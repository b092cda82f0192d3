// record() cost: ours (bound handle; unbound with 3 tags) beside prom-client Histogram.observe and
// @opentelemetry/sdk-metrics Histogram.record with a metric reader attached.
//   node --import tsx bench/recorder.ts
import client from 'prom-client';
import { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { Recorder } from '../src/sdk/recorder.js';
import { fmt, machine, nsPerOp, save, table } from './lib.js';

const N = 2_000_000;
const ROUNDS = 7;
const ROUTES = ['/products/:id', '/cart', '/checkout', '/search'];
const value = (i: number) => 0.001 + (i & 1023) * 1e-5;
const tags = (i: number) => ({ method: 'GET', route: ROUTES[i & 3], status: '200' });

// Tag objects built per call, as an app would: the cost of creating them is in every row.
const ours = new Recorder({ onWarning: () => {} });
const oursHist = ours.histogram('http.server.request.duration', { unit: 's' });
const bound = oursHist.bind({ method: 'GET', route: '/products/:id', status: '200' });

const registry = new client.Registry();
const prom = new client.Histogram({ name: 'http_request_duration_seconds', help: 'h', labelNames: ['method', 'route', 'status'], registers: [registry] });
const promBound = prom.labels({ method: 'GET', route: '/products/:id', status: '200' });

const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.DELTA), exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({ readers: [reader] });
const otel = provider.getMeter('bench').createHistogram('http.server.request.duration', { unit: 's' });

const rows = [
  ['solemate bound handle', nsPerOp((i) => bound.record(value(i)), N, ROUNDS)],
  ['solemate record(v, 3 tags)', nsPerOp((i) => oursHist.record(value(i), tags(i)), N, ROUNDS)],
  ['prom-client labels(...).observe (bound)', nsPerOp((i) => promBound.observe(value(i)), N, ROUNDS)],
  ['prom-client observe(3 labels, v)', nsPerOp((i) => prom.observe(tags(i), value(i)), N, ROUNDS)],
  ['OTel sdk-metrics record(v, 3 attrs), reader attached', nsPerOp((i) => otel.record(value(i), tags(i)), N / 4, ROUNDS)],
] as const;

const [oursBound, oursTags, , promTags, otelTags] = rows.map((r) => r[1]);
const result = {
  nsPerOp: Object.fromEntries(rows),
  ratios: { promObserveVsOursTags: promTags / oursTags, otelRecordVsOursTags: otelTags / oursTags, promObserveVsOursBound: promTags / oursBound },
  targets: { boundNs: 30, tagsNs: 150, vsProm: 4, vsOtel: 10 },
};
save('recorder', result);
console.log(`machine: ${machine()}\n`);
console.log(table(['record()', 'ns/op (median of 7)'], rows.map(([n, v]) => [n, fmt(v)])));
console.log(`\nprom-client observe(3 labels) / ours(3 tags): ${fmt(result.ratios.promObserveVsOursTags, 2)}×`);
console.log(`OTel record(3 attrs) / ours(3 tags): ${fmt(result.ratios.otelRecordVsOursTags, 2)}×`);
await provider.shutdown();
