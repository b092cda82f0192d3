// How long the ingest path blocks the event loop on one large OTLP request: a whole decode
// (decodeMetricsRequest / decodeTracesRequest) beside the longest single step of the sliced decode
// (src/otlp/slices.ts, 1000 points per slice) and the count that precedes it.
//   node --expose-gc --import tsx bench/ingest-decode.ts [points=50000]
import { decodeMetricsRequest, decodeTracesRequest, encodeMetricsRequest, encodeTracesRequest } from '../src/otlp/proto.js';
import { countMetricsProto, countTracesProto, sliceMetricsProto, sliceTracesProto } from '../src/otlp/slices.js';
import { fmt, machine, median, save, table } from './lib.js';

const POINTS = Number(process.argv[2] ?? 50_000);
const SLICE = 1000;
const ROUNDS = 7;
const ns = (i: number) => String(1_764_072_000_000_000_000n + BigInt(i) * 1_000_000n);
const attrs = (i: number) => [
  { key: 'http.route', value: { stringValue: `/products/${i % 50}/reviews` } },
  { key: 'http.request.method', value: { stringValue: i % 3 ? 'GET' : 'POST' } },
  { key: 'http.response.status_code', value: { intValue: String(200 + (i % 4)) } },
];

/** 100 points per metric, half sums and half exponential histograms, 10 services. */
function metrics(points: number): object {
  const metric = (m: number) => {
    const dataPoints = Array.from({ length: 100 }, (_, j) => {
      const i = m * 100 + j;
      const base = { attributes: attrs(i), startTimeUnixNano: ns(i), timeUnixNano: ns(i + 60_000) };
      if (m % 2) return { ...base, asDouble: i * 1.5 };
      return { ...base, count: '40', sum: 12.5, min: 0.01, max: 2, scale: 3, zeroCount: '0', positive: { offset: -20, bucketCounts: Array.from({ length: 12 }, (_, b) => String(b % 5)) } };
    });
    return m % 2 ? { name: `requests.${m}`, unit: '{request}', sum: { dataPoints, aggregationTemporality: 1, isMonotonic: true } } : { name: `latency.${m}`, unit: 's', exponentialHistogram: { dataPoints, aggregationTemporality: 1 } };
  };
  const perService = Math.ceil(points / 100 / 10);
  return {
    resourceMetrics: Array.from({ length: 10 }, (_, r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${r}` } }] },
      scopeMetrics: [{ scope: { name: 'bench', version: '1' }, metrics: Array.from({ length: perService }, (_, m) => metric(r * perService + m)) }],
    })),
  };
}

function traces(spans: number): object {
  const hex = (i: number, bytes: number) => i.toString(16).padStart(bytes * 2, '0');
  return {
    resourceSpans: Array.from({ length: 10 }, (_, r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${r}` } }] },
      scopeSpans: [{
        scope: { name: 'bench' },
        spans: Array.from({ length: spans / 10 }, (_, j) => {
          const i = r * (spans / 10) + j + 1;
          return { traceId: hex(i >> 3, 16), spanId: hex(i, 8), parentSpanId: hex(i + 1, 8), name: `GET /products/${i % 50}`, kind: 2, startTimeUnixNano: ns(i), endTimeUnixNano: ns(i + 5), attributes: attrs(i), status: { code: 1 } };
        }),
      }],
    })),
  };
}

/** ms for fn, median of rounds (after one warm-up) */
function time(fn: () => void): number {
  fn();
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

/** A generator's steps (each one is a wait for the event loop): the median, the longest, and the total; medians of rounds after a warm-up. */
function steps(make: () => Generator<object>): { step: number; longest: number; total: number; slices: number } {
  const runs = Array.from({ length: ROUNDS + 1 }, () => {
    const it = make();
    const times: number[] = [];
    const t0 = performance.now();
    for (;;) {
      const t = performance.now();
      const step = it.next();
      times.push(performance.now() - t);
      if (step.done) break;
    }
    return { step: median(times), longest: Math.max(...times), total: performance.now() - t0, slices: times.length - 1 };
  }).slice(1);
  return { step: median(runs.map((r) => r.step)), longest: median(runs.map((r) => r.longest)), total: median(runs.map((r) => r.total)), slices: runs[0].slices };
}

/** Each request is built just before it is measured, with the garbage of building it collected first (--expose-gc): otherwise its collection lands in the slice steps. */
function measure(bytes: Uint8Array, count: (b: Uint8Array) => number, slice: (b: Uint8Array, n: number) => Generator<object>, decode: (b: Uint8Array) => unknown) {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  // the sliced runs before the whole decodes, whose garbage would otherwise land in the steps too
  const out = { count: time(() => count(bytes)), ...steps(() => slice(bytes, SLICE)) };
  gc?.();
  return { ...out, decode: time(() => decode(bytes)) };
}

if (!('gc' in globalThis)) console.warn('run with node --expose-gc for steadier numbers');
let mBytes = encodeMetricsRequest(metrics(POINTS));
const m = measure(mBytes, countMetricsProto, sliceMetricsProto, decodeMetricsRequest);
const [mSize, points] = [mBytes.length, countMetricsProto(mBytes)];
mBytes = new Uint8Array(0);
const tBytes = encodeTracesRequest(traces(POINTS));
const t = measure(tBytes, countTracesProto, sliceTracesProto, decodeTracesRequest);

const result = { points, spans: countTracesProto(tBytes), metricsBytes: mSize, tracesBytes: tBytes.length, slice: SLICE, metrics: m, traces: t };
save('ingest-decode', result);
console.log(`machine: ${machine()}\n`);
console.log(table(
  ['request', 'size', 'whole decode ms', `slice step ms (${SLICE}): median`, 'longest', 'all slices ms', 'count ms', 'decode / count'],
  [
    [`${result.points} points`, `${fmt(mSize / 1e6, 2)} MB`, fmt(m.decode), fmt(m.step, 2), fmt(m.longest, 2), fmt(m.total), fmt(m.count, 2), `${fmt(m.decode / m.count)}×`],
    [`${result.spans} spans`, `${fmt(tBytes.length / 1e6, 2)} MB`, fmt(t.decode), fmt(t.step, 2), fmt(t.longest, 2), fmt(t.total), fmt(t.count, 2), `${fmt(t.decode / t.count)}×`],
  ],
));
