// The OTLP requests of the reliability suite, built with the project's own encoders (the SDK's
// Recorder → otlp/build → otlp/proto), so the server reads what our own exporter would send.
import zlib from 'node:zlib';
import type { MetricPoint } from '../../src/model/metrics.js';
import type { TraceRecord } from '../../src/model/spans.js';
import { buildMetricsRequest } from '../../src/otlp/build.js';
import { encodeMetricsRequest, encodeTracesRequest } from '../../src/otlp/proto.js';
import { buildTracesRequest } from '../../src/otlp/traces.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { HTTP_SERVER_DURATION } from '../../src/semconv.js';

const ROUTES = ['/api/orders/:id', '/api/cart', '/api/products', '/api/products/:id', '/api/users/:id', '/checkout', '/search', '/'];
const METHODS = ['GET', 'GET', 'GET', 'POST'];
const STATUSES = [200, 200, 200, 200, 201, 404, 500];

export const HIGH_CARDINALITY_METRIC = HTTP_SERVER_DURATION;
export const LARGE_METRIC_PREFIX = 'reliability.large.duration.';
export const COUNTER_METRIC = 'reliability.increments';
export const COUNTER_SERVICE = 'reliability-sender';
/** trace ids of case 4 start with this, then the batch (8 hex) and the trace (4 hex) */
export const TRACE_PREFIX = '7e1a';

function gz(bytes: Uint8Array): Buffer {
  return zlib.gzipSync(bytes);
}

/**
 * Request `r` of the high-cardinality case: `points` histogram points of http.server.request.duration,
 * each its own series (a distinct user.id; route, method and status as a real service has them).
 */
export function highCardinalityRequest(r: number, points: number): Buffer {
  const recorder = new Recorder({ cardinalityLimit: points + 1, service: 'reliability-shop', instance: 'shop-1', onWarning: () => {} });
  const h = recorder.histogram(HIGH_CARDINALITY_METRIC, { unit: 's' });
  for (let i = 0; i < points; i++) {
    const n = r * points + i;
    const tags = { 'http.route': ROUTES[n % ROUTES.length], 'http.request.method': METHODS[n % METHODS.length], 'http.response.status_code': STATUSES[n % STATUSES.length], 'user.id': `user-${n}` };
    h.record(0.004 + (n % 97) / 1000, tags);
    h.record(0.02 + (n % 13) / 100, tags);
  }
  return gz(encodeMetricsRequest(buildMetricsRequest(recorder.collect())));
}

/**
 * The largest request the server accepts (limits.pointsPerRequest): `points` histogram points over
 * 10 metrics, every point a new series. `service` keeps the protobuf and JSON copies apart.
 */
export function largestRequest(points: number, service: string): { proto: Buffer; json: Buffer; protoBytes: number; jsonBytes: number } {
  const recorder = new Recorder({ cardinalityLimit: points + 1, service, instance: 'big-1', onWarning: () => {} });
  const metrics = Array.from({ length: 10 }, (_, m) => recorder.histogram(`${LARGE_METRIC_PREFIX}${m}`, { unit: 's' }));
  for (let n = 0; n < points; n++) {
    const tags = { 'http.route': ROUTES[n % ROUTES.length], 'http.request.method': METHODS[n % METHODS.length], 'http.response.status_code': STATUSES[n % STATUSES.length], 'user.id': `user-${n}` };
    metrics[n % metrics.length].record(0.004 + (n % 97) / 1000, tags);
  }
  const body = buildMetricsRequest(recorder.collect());
  const proto = encodeMetricsRequest(body);
  const json = Buffer.from(JSON.stringify(body));
  return { proto: gz(proto), json: gz(json), protoBytes: proto.length, jsonBytes: json.length };
}

/** Where batch `b` of case 4 lands: its own (lane of series, minute), so every stored cell names its batch. */
export interface CounterLayout {
  seriesPerBatch: number;
  /** minutes per lane: batch b goes to lane floor(b / minutes), minute b % minutes */
  minutes: number;
  lanes: number;
  /** first minute (ms, on a minute boundary, in the past) */
  base: number;
}

export function counterCell(layout: CounterLayout, b: number): { lane: number; minute: number } {
  return { lane: Math.floor(b / layout.minutes), minute: layout.base + (b % layout.minutes) * 60_000 };
}

export function seriesName(lane: number, i: number): string {
  return `s${lane}-${i}`;
}

/** Batch `b` of case 4: an increment of 1 on each of the lane's series, all in the batch's minute. */
export function counterBatch(layout: CounterLayout, b: number): Buffer {
  const { lane, minute } = counterCell(layout, b);
  const time = minute + 30_000;
  const points: MetricPoint[] = [];
  for (let i = 0; i < layout.seriesPerBatch; i++) {
    points.push({ metric: COUNTER_METRIC, kind: 'counter', unit: '{increment}', service: COUNTER_SERVICE, instance: 'sender-1', attributes: { 'series.id': seriesName(lane, i) }, startTime: time - 1000, time, count: 1, sum: 1, min: 0, max: 0, last: 0 });
  }
  return gz(encodeMetricsRequest(buildMetricsRequest(points)));
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

export function traceId(b: number, t: number): string {
  return `${TRACE_PREFIX}${hex(b, 8)}${hex(t, 4)}0123456789abcdef`;
}

export function spanId(b: number, t: number, s: number): string {
  return `${hex(b, 8)}${hex(t, 4)}${hex(s + 1, 4)}`;
}

/** Batch `b` of case 4's traces: `traces` traces of `spans` spans (a server root and its children), ids naming the batch. */
export function spanBatch(b: number, traces: number, spans: number, now: number): Buffer {
  const records: TraceRecord[] = [];
  for (let t = 0; t < traces; t++) {
    const id = traceId(b, t);
    const root = spanId(b, t, 0);
    const list: TraceRecord['spans'] = [];
    for (let s = 0; s < spans; s++) {
      list.push({
        traceId: id,
        spanId: spanId(b, t, s),
        ...(s === 0 ? {} : { parentSpanId: root }),
        name: s === 0 ? 'GET /api/orders/:id' : `SELECT orders ${s}`,
        kind: s === 0 ? 'server' : 'client',
        start: now + s,
        duration: s === 0 ? spans + 5 : 1,
        attributes: s === 0 ? { 'http.route': '/api/orders/:id', 'http.request.method': 'GET', 'http.response.status_code': 200 } : { 'db.system': 'postgresql' },
        status: 'unset',
      });
    }
    records.push({ service: COUNTER_SERVICE, instance: 'sender-1', spans: list });
  }
  return gz(encodeTracesRequest(buildTracesRequest(records)));
}
