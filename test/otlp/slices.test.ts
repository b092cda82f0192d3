import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import { buildMetricsRequest } from '../../src/otlp/build.js';
import { decodeMetricsRequest, decodeTracesRequest, encodeMetricsRequest, encodeTracesRequest, ExportMetricsServiceRequest } from '../../src/otlp/proto.js';
import {
  countMetricsJson, countMetricsProto, countTracesJson, countTracesProto, sliceMetricsJson, sliceMetricsProto, sliceTracesJson, sliceTracesProto,
} from '../../src/otlp/slices.js';
import { OtlpMetricsReader } from '../../src/ingest/otlp-metrics.js';
import { readTraces } from '../../src/ingest/otlp-traces.js';
import { Recorder } from '../../src/sdk/recorder.js';

type Json = Record<string, unknown>;
const SIZES = [1, 7, 1000];
const KINDS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

// ---- requests ----

let seed = 42;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
const ns = (i: number) => String(1_764_072_000_000_000_000n + BigInt(i) * 1_000_000_000n);
const hex = (bytes: number) => Array.from({ length: bytes }, () => Math.floor(random() * 256).toString(16).padStart(2, '0')).join('');

/** One attribute of every AnyValue kind, nested ones included. */
const EVERY_VALUE = [
  { key: 's', value: { stringValue: 'GET' } },
  { key: 'b', value: { boolValue: true } },
  { key: 'i', value: { intValue: '-9007199254740993' } },
  { key: 'd', value: { doubleValue: 0.25 } },
  { key: 'y', value: { bytesValue: 'AQID' } },
  { key: 'a', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: '3' }, { arrayValue: { values: [{ boolValue: false }] } }] } } },
  { key: 'k', value: { kvlistValue: { values: [{ key: 'inner', value: { kvlistValue: { values: [{ key: 'deep', value: { doubleValue: 1.5 } }] } } }] } } },
];

function point(kind: string, i: number): Json {
  const base = { attributes: [{ key: 'route', value: { stringValue: `/r${i % 5}` } }, ...(i % 3 ? [] : EVERY_VALUE)], startTimeUnixNano: ns(i), timeUnixNano: ns(i + 1), ...(i % 4 ? {} : { flags: 1 }) };
  if (kind === 'gauge' || kind === 'sum') return { ...base, ...(i % 2 ? { asInt: String(i * 1000) } : { asDouble: i / 7 }) };
  if (kind === 'histogram') return { ...base, count: '6', sum: 2.5, bucketCounts: ['1', '2', '3'], explicitBounds: [0.1, 1], min: 0.01, max: 9 };
  if (kind === 'summary') return { ...base, count: '4', sum: 10 };
  return { ...base, count: '5', sum: 3, scale: -2, zeroCount: '1', positive: { offset: -3, bucketCounts: ['1', '0', '3'] }, negative: { offset: 2, bucketCounts: ['1'] }, min: 0, max: 4, zeroThreshold: 1e-9 };
}

function metric(kind: string, name: string, points: number): Json {
  const data: Json = { dataPoints: Array.from({ length: points }, (_, i) => point(kind, i)) };
  if (kind === 'sum') Object.assign(data, { aggregationTemporality: 2, isMonotonic: true });
  if (kind === 'histogram' || kind === 'exponentialHistogram') data.aggregationTemporality = 1;
  return { name, description: `about ${name}`, unit: pick(['s', 'By', '']), [kind]: data };
}

/** Several resources and scopes, every kind, point counts from 0 to 40, empty metrics, scopes and resources. */
function metricsRequest(): Json {
  return {
    resourceMetrics: Array.from({ length: 4 }, (_, r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc${r}` } }, ...(r === 1 ? EVERY_VALUE : [])], droppedAttributesCount: r },
      schemaUrl: `https://opentelemetry.io/schemas/1.${r}`,
      scopeMetrics: r === 3 ? [] : Array.from({ length: 3 }, (_, s) => ({
        scope: { name: `scope${s}`, version: '1.0', attributes: [{ key: 'lib', value: { stringValue: 'x' } }] },
        metrics: s === 2 ? [] : [
          ...KINDS.map((k, m) => metric(k, `${k}.${r}.${s}`, Math.floor(random() * 40) + m)),
          { name: `empty.${r}.${s}` },
          { name: `no-points.${r}.${s}`, gauge: {} },
        ],
      })),
    })),
  };
}

function recorderRequest(): Json {
  const points = ['shop', 'cart'].flatMap((service) => {
    const r = new Recorder({ service, instance: 'i-1', onWarning: () => {} });
    const h = r.histogram('http.server.request.duration', { unit: 's', description: 'latency' });
    const c = r.counter('orders', { unit: '{order}' });
    const g = r.gauge('queue.depth');
    for (let i = 0; i < 500; i++) {
      const tags = { route: `/p/${i % 37}`, method: pick(['GET', 'POST']) };
      h.record(0.001 + random() * 2, tags);
      c.record(1 + (i % 3), tags);
      g.record(i % 11, { queue: `q${i % 4}` });
    }
    return r.collect();
  });
  return buildMetricsRequest(points) as Json;
}

function tracesRequest(): Json {
  const span = (i: number) => ({
    traceId: hex(16), spanId: hex(8), ...(i % 3 ? { parentSpanId: hex(8) } : {}), traceState: i % 5 ? undefined : 'a=b',
    name: `op${i}`, kind: (i % 5) + 1, startTimeUnixNano: ns(i), endTimeUnixNano: ns(i + 2), flags: 257,
    attributes: i % 4 ? [{ key: 'n', value: { intValue: String(i) } }] : EVERY_VALUE, droppedAttributesCount: i % 2,
    status: i % 6 ? { code: 1 } : { code: 2, message: 'boom' },
  });
  return {
    resourceSpans: Array.from({ length: 3 }, (_, r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc${r}` } }, ...EVERY_VALUE] },
      scopeSpans: [
        ...Array.from({ length: 2 }, (_, s) => ({ scope: { name: `scope${s}` }, spans: Array.from({ length: 10 + r * 13 + s }, (_, i) => span(i)), schemaUrl: 'u' })),
        { scope: { name: 'idle' } },
      ],
    })),
  };
}

// ---- gluing slices back together ----

/** Where a container keeps its children: the request, resource, scope by key; a metric in its kind. */
const METRIC_PATH = [(o: Json) => [o, 'resourceMetrics'], (o: Json) => [o, 'scopeMetrics'], (o: Json) => [o, 'metrics'], (o: Json) => [o[KINDS.find((k) => o[k]) ?? ''] ?? {}, 'dataPoints']] as ((o: Json) => [Json, string])[];
const SPAN_PATH = [(o: Json) => [o, 'resourceSpans'], (o: Json) => [o, 'scopeSpans'], (o: Json) => [o, 'spans']] as ((o: Json) => [Json, string])[];

/** A container's own fields, children left out, as a string to compare. */
function header(o: Json, level: number, path: typeof METRIC_PATH): string {
  const [holder, key] = path[level](o);
  const children = holder[key];
  return JSON.stringify(o, (_k, v: unknown) => (v === children ? undefined : v));
}

/**
 * The slices joined into one request: a container continued from the previous slice (same fields
 * apart from its children) is merged into it. The test requests never have two equal neighbours.
 */
function glue(slices: object[], path: typeof METRIC_PATH): Json {
  const out = structuredClone(slices[0]) as Json;
  for (const next of slices.slice(1).map((s) => structuredClone(s) as Json)) {
    let [a, b] = [out, next];
    for (let level = 0; level < path.length; level++) {
      const [ha, key] = path[level](a);
      const [hb] = path[level](b);
      const la = (ha[key] ??= []) as Json[];
      const lb = (hb[key] ?? []) as Json[];
      const last = la.at(-1);
      const continued = level + 1 < path.length && last !== undefined && lb.length > 0 && header(last, level + 1, path) === header(lb[0], level + 1, path);
      la.push(...(continued ? lb.slice(1) : lb));
      if (!continued) break;
      [a, b] = [last, lb[0]];
    }
  }
  return out;
}

function leaves(o: Json, path: typeof METRIC_PATH, level = 0): unknown[] {
  const [holder, key] = path[level](o);
  const list = (holder[key] ?? []) as Json[];
  return level + 1 === path.length ? list : list.flatMap((c) => leaves(c, path, level + 1));
}

function checkSlices(slices: object[], whole: unknown, max: number, path: typeof METRIC_PATH): void {
  for (const s of slices) assert.ok(leaves(s as Json, path).length <= max, `a slice holds ≤ ${max}`);
  const glued = glue(slices, path);
  assert.deepEqual(glued, whole);
  assert.equal(JSON.stringify(glued), JSON.stringify(whole), 'same key order as one decode');
  assert.deepEqual(slices.flatMap((s) => leaves(s as Json, path)), leaves(whole as Json, path), 'points in order');
}

// ---- equivalence ----

test('metric slices join up to what decodeMetricsRequest returns, at every slice size', () => {
  for (const [k, request] of [metricsRequest(), metricsRequest(), recorderRequest()].entries()) {
    const encoded = encodeMetricsRequest(request);
    // the second one as a view at an offset into a larger buffer, as a body sliced from a pool is
    const bytes = k === 1 ? Buffer.concat([Buffer.alloc(13, 0xff), encoded]).subarray(13) : encoded;
    const whole = decodeMetricsRequest(bytes);
    const n = leaves(whole as Json, METRIC_PATH).length;
    assert.ok(n > 100);
    assert.equal(countMetricsProto(bytes), n);
    assert.equal(countMetricsJson(whole), n);
    for (const max of SIZES) {
      checkSlices([...sliceMetricsProto(bytes, max)], whole, max, METRIC_PATH);
      checkSlices([...sliceMetricsJson(whole, max)], whole, max, METRIC_PATH);
    }
  }
});

test('recorder requests are cut as late as possible: ceil(points / max) slices, each full but the last', () => {
  const bytes = encodeMetricsRequest(recorderRequest());
  const n = countMetricsProto(bytes);
  for (const max of [7, 100]) {
    const sizes = [...sliceMetricsProto(bytes, max)].map((s) => leaves(s as Json, METRIC_PATH).length);
    assert.equal(sizes.length, Math.ceil(n / max));
    assert.deepEqual(sizes.slice(0, -1), sizes.slice(0, -1).map(() => max));
  }
});

test('span slices join up to what decodeTracesRequest returns, hex ids included', () => {
  for (const request of [tracesRequest(), tracesRequest()]) {
    const bytes = encodeTracesRequest(request);
    const whole = decodeTracesRequest(bytes) as Json;
    const n = leaves(whole, SPAN_PATH).length;
    assert.equal(countTracesProto(bytes), n);
    assert.equal(countTracesJson(whole), n);
    assert.match((leaves(whole, SPAN_PATH)[1] as Json).parentSpanId as string, /^[0-9a-f]{16}$/);
    for (const max of SIZES) {
      checkSlices([...sliceTracesProto(bytes, max)], whole, max, SPAN_PATH);
      checkSlices([...sliceTracesJson(whole, max)], whole, max, SPAN_PATH);
    }
  }
});

test('the readers take in the same points and spans from slices as from the whole request', () => {
  const metrics = recorderRequest();
  const whole = new OtlpMetricsReader().read(metrics);
  const reader = new OtlpMetricsReader();
  const sliced = [...sliceMetricsProto(encodeMetricsRequest(metrics), 7)].flatMap((s) => reader.read(s).points);
  assert.equal(whole.points.length, countMetricsJson(metrics));
  assert.deepEqual(sliced, whole.points);
  const traces = tracesRequest();
  const now = Number(BigInt(ns(0)) / 1_000_000n);
  const spans = [...sliceTracesProto(encodeTracesRequest(traces), 7)].flatMap((s) => readTraces(s, undefined, now).spans);
  assert.deepEqual(spans, readTraces(traces, undefined, now).spans);
});

const Writer = protobuf.Writer;
const type = (name: string) => ExportMetricsServiceRequest.lookupType(`otlp.${name}`);
const enc = (name: string, obj: object) => type(name).encode(type(name).fromObject(obj)).finish();
const field = (w: protobuf.Writer, no: number, bytes: Uint8Array) => w.uint32((no << 3) | 2).bytes(bytes);
/** A ScopeMetrics holding one metric whose bytes are given, inside a request. */
const wrap = (metricBytes: Uint8Array) => field(new Writer(), 1, field(new Writer(), 2, field(new Writer(), 2, metricBytes).finish()).finish()).finish();

test('repeated, merged and unknown fields mean what they mean to one decode', () => {
  const pts = (kind: string, n: number, from: number) => enc(kind === 'sum' ? 'Sum' : 'Gauge', { dataPoints: Array.from({ length: n }, (_, i) => point(kind, from + i)) });
  // gauge, then sum in two parts (merged; the temporality comes in the second), then unknown fields
  const w = new Writer().uint32(10).string('m');
  field(w, 5, pts('gauge', 3, 0));
  field(w, 7, pts('sum', 4, 10));
  field(w, 7, enc('Sum', { dataPoints: [point('sum', 20)], aggregationTemporality: 2 }));
  w.uint32((99 << 3) | 0).uint32(7).uint32((98 << 3) | 2).bytes(new Uint8Array([1, 2, 3])).uint32((5 << 3) | 0).uint32(1);
  const twice = Buffer.concat([wrap(w.finish()), enc('ExportMetricsServiceRequest', { resourceMetrics: [{ resource: { attributes: [EVERY_VALUE[0]] } }] }), enc('ExportMetricsServiceRequest', { resourceMetrics: [{ resource: { attributes: [EVERY_VALUE[1]] } }] })]);
  // last: a gauge after a sum wins, and a resource sent twice is merged
  const last = new Writer().uint32(10).string('n');
  field(last, 7, pts('sum', 2, 0));
  field(last, 5, pts('gauge', 2, 5));
  const rm = field(field(new Writer(), 1, enc('Resource', { attributes: [EVERY_VALUE[2]] })), 1, enc('Resource', { attributes: [EVERY_VALUE[3]] }));
  field(rm, 2, field(new Writer(), 2, last.finish()).finish());
  const bytes = Buffer.concat([twice, field(new Writer(), 1, rm.finish()).finish()]);
  const whole = decodeMetricsRequest(bytes) as Json;
  // what one decode makes of it, the reference the slices are held to
  const metrics = (whole.resourceMetrics as Json[]).map((rm) => ((rm.scopeMetrics as Json[] | undefined)?.[0]?.metrics as Json[] | undefined)?.[0]);
  assert.deepEqual([(metrics[0]?.sum as Json).aggregationTemporality, ((metrics[0]?.sum as Json).dataPoints as Json[]).length, metrics[0]?.gauge], [2, 5, undefined]);
  assert.deepEqual([((metrics[3]?.gauge as Json).dataPoints as Json[]).length, metrics[3]?.sum], [2, undefined]);
  assert.equal(((whole.resourceMetrics as Json[])[3].resource as Json & { attributes: Json[] }).attributes.length, 2);
  assert.equal(countMetricsProto(bytes), 5 + 2);
  assert.equal(leaves(whole, METRIC_PATH).length, 7);
  for (const max of SIZES) checkSlices([...sliceMetricsProto(bytes, max)], whole, max, METRIC_PATH);
});

test('an empty request gives one empty slice; a slice size below 1 is refused', () => {
  assert.deepEqual([...sliceMetricsProto(new Uint8Array(0), 5)], [{}]);
  assert.deepEqual([...sliceTracesProto(new Uint8Array(0), 5)], [{}]);
  assert.equal(countMetricsProto(new Uint8Array(0)), 0);
  assert.throws(() => [...sliceMetricsProto(new Uint8Array(0), 0)], RangeError);
  assert.throws(() => [...sliceTracesJson({ resourceSpans: [] }, Number.NaN)], RangeError);
});

test('JSON of the wrong shape passes through for the reader to reject', () => {
  const bad = { resourceMetrics: 'nope' };
  assert.deepEqual([...sliceMetricsJson(bad, 5)], [bad]);
  assert.equal([...sliceMetricsJson(bad, 5)][0], bad);
  assert.deepEqual([...sliceTracesJson(null, 5)], [null]);
  const odd = { resourceMetrics: [7, { scopeMetrics: 'x' }, { resource: {}, scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: 'x' } }, { name: 'g', gauge: { dataPoints: [1, 2, 3] }, sum: {} }] }] }] };
  const slices = [...sliceMetricsJson(odd, 2)];
  assert.deepEqual(glue(slices, METRIC_PATH), odd);
  assert.equal(countMetricsJson(odd), 3);
  assert.throws(() => new OtlpMetricsReader().read(slices[0]), /resourceMetrics\[\] must be objects/);
});

// ---- hostile bytes ----

/** Outcome of one call: the value or the error's class. */
function outcome(fn: () => unknown): unknown {
  try {
    return { ok: fn() };
  } catch (e) {
    assert.ok(e instanceof Error, 'throws Errors only');
    return 'threw';
  }
}

test('truncated and corrupted requests fail (or succeed) exactly as decodeMetricsRequest does', () => {
  const bytes = encodeMetricsRequest(metricsRequest());
  const glued = (b: Uint8Array) => glue([...sliceMetricsProto(b, 7)], METRIC_PATH);
  const cases: Uint8Array[] = [];
  for (let len = 0; len < bytes.length; len += 97) cases.push(bytes.subarray(0, len));
  for (let i = 0; i < 300; i++) {
    const b = Uint8Array.from(bytes.subarray(0, 4000));
    b[Math.floor(random() * b.length)] = Math.floor(random() * 256);
    cases.push(b);
  }
  for (let i = 0; i < 300; i++) cases.push(Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
  let threw = 0;
  for (const b of cases) {
    const expected = outcome(() => decodeMetricsRequest(b));
    // the glue may merge equal neighbours a corrupted byte created; compare leaves for those
    const got = outcome(() => glued(b));
    if (expected === 'threw') {
      threw++;
      assert.equal(got, 'threw');
    } else {
      assert.notEqual(got, 'threw');
      assert.deepEqual(leaves((got as { ok: Json }).ok, METRIC_PATH), leaves((expected as { ok: Json }).ok, METRIC_PATH));
      assert.equal(countMetricsProto(b), leaves((expected as { ok: Json }).ok, METRIC_PATH).length);
    }
  }
  assert.ok(threw > cases.length / 2, `${threw} of ${cases.length} threw`);
});

test('a claimed length past the end throws at once, without allocating it', () => {
  const huge = Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 1, 2, 3);
  assert.throws(() => countMetricsProto(huge), RangeError);
  assert.throws(() => [...sliceMetricsProto(huge, 7)], RangeError);
  assert.throws(() => countTracesProto(huge), RangeError);
  assert.throws(() => [...sliceTracesProto(huge, 7)], RangeError);
});

/** An AnyValue nested `levels` deep (array inside array), written outside-in so it costs O(levels). */
function deepAnyValue(levels: number): Uint8Array {
  const core = enc('AnyValue', { stringValue: 'x' });
  const varint = (n: number) => new Writer().uint32(n).finish();
  const heads: Uint8Array[] = [];
  let size = core.length;
  for (let i = 0; i < levels; i++) {
    const inner = Buffer.concat([Uint8Array.of(0x0a), varint(size)]); // ArrayValue.values = 1
    size += inner.length;
    const outer = Buffer.concat([Uint8Array.of(0x2a), varint(size)]); // AnyValue.array_value = 5
    size += outer.length;
    heads.push(inner, outer);
  }
  return Buffer.concat([...heads.reverse(), core]);
}

test('an AnyValue nested 100k deep is an Error (protobufjs stops at depth 100), not a crash', () => {
  const kv = (v: Uint8Array) => field(new Writer().uint32(10).string('k'), 2, v).finish();
  const deepPoint = field(new Writer(), 7, kv(deepAnyValue(100_000))).finish(); // NumberDataPoint.attributes = 7
  const metricBytes = field(new Writer().uint32(10).string('m'), 5, field(new Writer(), 1, deepPoint).finish()).finish();
  const bytes = wrap(metricBytes);
  assert.throws(() => decodeMetricsRequest(bytes), /max depth/);
  assert.throws(() => [...sliceMetricsProto(bytes, 7)], /max depth/);
  assert.equal(countMetricsProto(bytes), 1, 'counting does not look inside points');
  const deepResource = field(new Writer(), 1, field(new Writer(), 1, field(new Writer(), 1, kv(deepAnyValue(100_000))).finish()).finish()).finish();
  assert.throws(() => [...sliceTracesProto(deepResource, 7)], /max depth/);
  // the innermost AnyValue of a span attribute nested L deep is at depth 5 + 2L: 48 is past the limit only when counted from the request
  const deepSpan = (levels: number) => field(new Writer(), 1, field(new Writer(), 2, field(new Writer(), 2, field(new Writer(), 9, kv(deepAnyValue(levels))).finish()).finish()).finish()).finish();
  assert.equal(leaves(decodeTracesRequest(deepSpan(47)) as Json, SPAN_PATH).length, 1);
  assert.equal(leaves(glue([...sliceTracesProto(deepSpan(47), 7)], SPAN_PATH), SPAN_PATH).length, 1);
  assert.throws(() => decodeTracesRequest(deepSpan(48)), /max depth/);
  assert.throws(() => [...sliceTracesProto(deepSpan(48), 7)], /max depth/, 'the limit counts from the request, as in one decode');
  const groups = Buffer.concat([Buffer.alloc(100_000, 0x1b)]); // field 3, start group, 100k deep
  assert.throws(() => countMetricsProto(groups), /max depth|index out of range/);
  assert.throws(() => [...sliceTracesProto(groups, 7)], /max depth|index out of range/);
});

test('slices come out before the rest is decoded: a broken point late in the request fails late', () => {
  const good = encodeMetricsRequest({ resourceMetrics: [{ scopeMetrics: [{ metrics: [metric('gauge', 'g', 20)] }] }] });
  const broken = wrap(field(new Writer().uint32(10).string('b'), 5, field(new Writer(), 1, Uint8Array.of(0, 0)).finish()).finish()); // tag 0 in a point
  const bytes = Buffer.concat([good, broken]);
  assert.equal(countMetricsProto(bytes), 21, 'framing is sound; only decoding the point finds the fault');
  const got: object[] = [];
  assert.throws(() => {
    for (const s of sliceMetricsProto(bytes, 7)) got.push(s);
  }, /field number 0/);
  assert.equal(got.length, 2);
});
