// ExportMetricsServiceRequest (OTLP/JSON shape; protobuf is decoded to it first) → delta MetricPoints.
// Cumulative senders (the OpenTelemetry SDK's default) are turned into deltas by remembering the
// previous point of each stream, like the collector's cumulativetodelta processor; the first point
// of a stream counts everything since its start time.
import { ExpHistogram, fromExplicitBuckets, MAX_SCALE, type HistogramData } from '../model/histogram.js';
import { seriesKey, type Attributes, type MetricPoint } from '../model/metrics.js';

const CUMULATIVE = 2;
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/;
/** resource attributes kept whatever the limit: they name the series' service and instance */
export const IDENTITY = ['service.name', 'service.instance.id', 'host.name'];

/** The limit table's share that applies to points (config `limits`; defaults as there). */
export interface PointLimits {
  attributes: number;
  resourceAttributes: number;
  attributeValueLength: number;
  maxPastMs: number;
  maxFutureMs: number;
}

export const POINT_LIMITS: PointLimits = { attributes: 64, resourceAttributes: 128, attributeValueLength: 1024, maxPastMs: 400 * 86_400_000, maxFutureMs: 3_600_000 };

export interface IngestResult {
  points: MetricPoint[];
  rejected: number;
  errors: string[];
}

/** The last point of a cumulative stream; `data` is what its kind subtracts (buckets). */
interface Previous<T = unknown> {
  start: number;
  time: number;
  sum: number;
  count: number;
  data: T;
}

interface Explicit {
  bounds: number[];
  counts: number[];
}

type Json = Record<string, unknown>;

class PointError extends Error {}

export class OtlpMetricsReader {
  private readonly previous = new Map<string, Previous>();

  private readonly limits: PointLimits;

  constructor(private readonly options: { maxStreams?: number; limits?: Partial<PointLimits> } = {}) {
    this.limits = { ...POINT_LIMITS, ...options.limits };
  }

  /** Throws only when the request as a whole is not an export request; bad points are rejected one by one. */
  read(body: unknown, now = Date.now()): IngestResult {
    checkMetricsRequest(body);
    const result: IngestResult = { points: [], rejected: 0, errors: [] };
    for (const rm of ((body as Json).resourceMetrics as Json[] | undefined) ?? []) {
      const resAttrs = isObj(rm.resource) ? this.resource(rm.resource.attributes, result) : {};
      const service = resAttrs['service.name'] ?? 'unknown_service';
      const instance = resAttrs['service.instance.id'] ?? resAttrs['host.name'] ?? 'unknown';
      for (const sm of (rm.scopeMetrics as Json[] | undefined) ?? []) {
        for (const m of (sm.metrics as unknown[] | undefined) ?? []) this.readMetric(m, service, instance, now, result);
      }
    }
    return result;
  }

  /**
   * A resource's attributes within the limits: past the count the extras are dropped (the identity
   * attributes are kept), a long value is cut; said in the answer, never a lost request.
   */
  private resource(list: unknown, result: IngestResult): Attributes {
    if (!Array.isArray(list)) return {};
    const { resourceAttributes: max, attributeValueLength: len } = this.limits;
    const out: Attributes = {};
    let kept = 0;
    let dropped = 0;
    let cut = 0;
    for (const kv of list) {
      if (!isObj(kv) || typeof kv.key !== 'string' || kv.key.length === 0 || kv.key.length > 256) continue;
      if (kept >= max && !IDENTITY.includes(kv.key)) {
        dropped++;
        continue;
      }
      const v = anyValue(kv.value);
      if (v.length > len) cut++;
      out[kv.key] = v.slice(0, len);
      kept++;
    }
    if (dropped > 0) result.errors.push(`resource has ${list.length} attributes; ${dropped} past limits.resourceAttributes (${max}) were dropped`);
    if (cut > 0) result.errors.push(`${cut} resource attribute values were cut to limits.attributeValueLength (${len})`);
    return out;
  }

  private readMetric(m: unknown, service: string, instance: string, now: number, result: IngestResult): void {
    if (!isObj(m) || typeof m.name !== 'string' || !NAME_RE.test(m.name)) {
      const n = countPoints(m);
      result.rejected += n;
      result.errors.push(`metric name ${JSON.stringify(isObj(m) ? m.name : m)?.slice(0, 80)} is invalid`);
      return;
    }
    const base = { metric: m.name, unit: typeof m.unit === 'string' ? m.unit : '', description: typeof m.description === 'string' ? m.description : '', service, instance };
    const each = (dps: unknown, fn: (dp: Json) => MetricPoint | undefined) => {
      if (!Array.isArray(dps)) return;
      for (const dp of dps) {
        try {
          if (!isObj(dp)) throw new PointError('data point must be an object');
          const p = fn(dp);
          if (p) {
            if (p.time < now - this.limits.maxPastMs || p.time > now + this.limits.maxFutureMs) {
              throw new PointError(`timestamp ${new Date(p.time).toISOString()} is outside the accepted range`);
            }
            result.points.push(p);
          }
        } catch (e) {
          if (!(e instanceof PointError)) throw e;
          result.rejected++;
          if (result.errors.length < 20) result.errors.push(`${m.name}: ${e.message}`);
        }
      }
    };
    if (isObj(m.gauge)) each(m.gauge.dataPoints, (dp) => this.gauge(base, dp));
    else if (isObj(m.sum)) {
      const sum = m.sum;
      const monotonic = sum.isMonotonic === true;
      const cumulative = sum.aggregationTemporality === CUMULATIVE;
      each(sum.dataPoints, (dp) => (monotonic ? this.counter(base, dp, cumulative) : this.gauge(base, dp)));
    } else if (isObj(m.histogram)) {
      const cumulative = m.histogram.aggregationTemporality === CUMULATIVE;
      each(m.histogram.dataPoints, (dp) => this.explicitHistogram(base, dp, cumulative));
    } else if (isObj(m.exponentialHistogram)) {
      const cumulative = m.exponentialHistogram.aggregationTemporality === CUMULATIVE;
      each(m.exponentialHistogram.dataPoints, (dp) => this.exponentialHistogram(base, dp, cumulative));
    } else if (isObj(m.summary)) {
      each(m.summary.dataPoints, () => {
        throw new PointError('summary points cannot be merged across time or instances; send histograms');
      });
    }
  }

  private gauge(base: Base, dp: Json): MetricPoint {
    const v = numberValue(dp);
    const { start, time, attributes } = common(dp, this.limits);
    return { ...base, kind: 'gauge', attributes, startTime: start || time, time, count: 1, sum: v, min: v, max: v, last: v };
  }

  private counter(base: Base, dp: Json, cumulative: boolean): MetricPoint | undefined {
    const v = numberValue(dp);
    if (v < 0) throw new PointError('monotonic sum is negative');
    const { start, time, attributes } = common(dp, this.limits);
    let delta = v;
    let from = start || time;
    if (cumulative) {
      const d = this.sincePrevious(seriesKey(base.metric, base.service, base.instance, attributes), { start, time, sum: v, count: 0, data: null }, () => null);
      if (d) {
        delta = d.sum;
        from = d.from;
      }
    }
    return { ...base, kind: 'counter', attributes, startTime: from, time, count: delta > 0 ? 1 : 0, sum: delta, min: 0, max: 0, last: 0 };
  }

  private explicitHistogram(base: Base, dp: Json, cumulative: boolean): MetricPoint | undefined {
    const bounds = numArray(dp.explicitBounds, 'explicitBounds');
    let counts = numArray(dp.bucketCounts, 'bucketCounts');
    if (counts.length > 0 && counts.length !== bounds.length + 1) throw new PointError('bucketCounts must have one more entry than explicitBounds');
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i] > bounds[i - 1])) throw new PointError('explicitBounds must increase');
    let min = optNum(dp.min);
    let max = optNum(dp.max);
    let n = count(dp.count, 'count');
    let sum = optNum(dp.sum) ?? 0;
    const { start, time, attributes } = common(dp, this.limits);
    let from = start || time;
    if (cumulative) {
      // Subtract the raw bucket counts first: converting each cumulative point and then subtracting
      // would spread the same counts differently as min/max move.
      const d = this.sincePrevious<Explicit>(seriesKey(base.metric, base.service, base.instance, attributes), { start, time, sum, count: n, data: { bounds, counts } }, subtractExplicit);
      if (d) {
        ({ count: n, sum, from } = d);
        counts = d.data.counts;
        min = max = undefined; // cumulative min/max describe the whole run, not this interval
      }
      if (n === 0) return undefined;
    }
    const hist = fromExplicitBuckets(bounds, counts, min, max);
    return this.summarise(base, attributes, from, time, n, sum, hist, min, max);
  }

  private exponentialHistogram(base: Base, dp: Json, cumulative: boolean): MetricPoint | undefined {
    const scale = optNum(dp.scale) ?? 0;
    if (!Number.isInteger(scale) || scale < -10 || scale > 20) throw new PointError('scale must be an integer in [-10, 20]');
    const positive = isObj(dp.positive) ? dp.positive : {};
    const offset = optNum(positive.offset) ?? 0;
    if (!Number.isInteger(offset)) throw new PointError('positive.offset must be an integer');
    const counts = numArray(positive.bucketCounts, 'positive.bucketCounts');
    const negative = isObj(dp.negative) ? numArray(dp.negative.bucketCounts, 'negative.bucketCounts') : [];
    if (negative.some((c) => c > 0)) throw new PointError('negative values are not supported (histograms record durations and sizes)');
    const h = new ExpHistogram(MAX_SCALE);
    h.mergeBuckets({ scale, zeroCount: count(dp.zeroCount, 'zeroCount'), offset, counts });
    return this.histogramPoint(base, dp, h.toData(), cumulative, optNum(dp.min), optNum(dp.max));
  }

  private histogramPoint(base: Base, dp: Json, hist: HistogramData, cumulative: boolean, min: number | undefined, max: number | undefined): MetricPoint | undefined {
    const { start, time, attributes } = common(dp, this.limits);
    let n = count(dp.count, 'count');
    let sum = optNum(dp.sum) ?? 0;
    let from = start || time;
    let delta = hist;
    if (cumulative) {
      const d = this.sincePrevious<HistogramData>(seriesKey(base.metric, base.service, base.instance, attributes), { start, time, sum, count: n, data: hist }, subtract);
      if (d) {
        ({ count: n, sum, from, data: delta } = d);
        min = max = undefined; // cumulative min/max describe the whole run, not this interval
      }
      if (n === 0) return undefined;
    }
    return this.summarise(base, attributes, from, time, n, sum, delta, min, max);
  }

  /** The point for one delta histogram. A count that its buckets do not add up to is a broken point. */
  private summarise(base: Base, attributes: Attributes, from: number, time: number, n: number, sum: number, hist: HistogramData, min: number | undefined, max: number | undefined): MetricPoint | undefined {
    const h = new ExpHistogram(hist.scale);
    h.mergeBuckets(hist);
    const bucketTotal = h.zeroCount + h.counts.subarray(0, h.used).reduce((a, b) => a + b, 0);
    if (n === 0 && bucketTotal === 0) return undefined;
    // no buckets at all (count and sum only) stays allowed: the count is then all there is
    if (bucketTotal !== n && bucketTotal > 0) throw new PointError(`count ${n} disagrees with its buckets, which hold ${bucketTotal}`);
    const lo = min ?? (h.zeroCount > 0 ? 0 : bounds(h).lo);
    const hi = max ?? bounds(h).hi;
    return { ...base, kind: 'histogram', attributes, startTime: from, time, count: n, sum, min: lo, max: hi, last: 0, hist };
  }

  /**
   * The change of a cumulative stream since its previous point, or undefined when there is none
   * to subtract: the first point, a restart (new start time) or a reset (anything went down).
   */
  private sincePrevious<T>(key: string, cur: Previous<T>, diff: (cur: T, prev: T) => T | undefined): { data: T; count: number; sum: number; from: number } | undefined {
    const prev = this.previous.get(key) as Previous<T> | undefined;
    this.remember(key, cur);
    if (!prev || prev.start !== cur.start || cur.time < prev.time || cur.count < prev.count || cur.sum < prev.sum) return undefined;
    const data = diff(cur.data, prev.data);
    return data === undefined ? undefined : { data, count: cur.count - prev.count, sum: cur.sum - prev.sum, from: prev.time };
  }

  private remember(key: string, prev: Previous): void {
    this.previous.delete(key);
    this.previous.set(key, prev);
    if (this.previous.size > (this.options.maxStreams ?? 100_000)) {
      this.previous.delete(this.previous.keys().next().value as string);
    }
  }
}

type Base = { metric: string; unit: string; description: string; service: string; instance: string };

/** Raw explicit-bucket counts cur − prev; undefined when the layout changed or a bucket went down. */
function subtractExplicit(cur: Explicit, prev: Explicit): Explicit | undefined {
  const same = cur.bounds.length === prev.bounds.length && cur.bounds.every((v, i) => v === prev.bounds[i]);
  if (!same || cur.counts.some((c, i) => c < (prev.counts[i] ?? 0))) return undefined;
  return { bounds: cur.bounds, counts: cur.counts.map((c, i) => c - (prev.counts[i] ?? 0)) };
}

function bounds(h: ExpHistogram): { lo: number; hi: number } {
  const d = h.toData();
  if (d.counts.length === 0) return { lo: 0, hi: 0 };
  return { lo: 2 ** (d.offset / 2 ** d.scale), hi: 2 ** ((d.offset + d.counts.length) / 2 ** d.scale) };
}

/** cur − prev at the coarser of the two scales; undefined when a bucket went down (a reset). */
function subtract(cur: HistogramData, prev: HistogramData): HistogramData | undefined {
  const scale = Math.min(cur.scale, prev.scale);
  const a = new ExpHistogram(scale);
  a.mergeBuckets(cur);
  const b = new ExpHistogram(scale);
  b.mergeBuckets(prev);
  if (a.zeroCount < b.zeroCount) return undefined;
  const out = new ExpHistogram(scale);
  out.zeroCount = a.zeroCount - b.zeroCount;
  const ad = a.toData();
  const bd = b.toData();
  const prevAt = (i: number) => (i >= bd.offset && i < bd.offset + bd.counts.length ? bd.counts[i - bd.offset] : 0);
  let covered = 0;
  for (let i = 0; i < ad.counts.length; i++) {
    const idx = ad.offset + i;
    const p = prevAt(idx);
    covered += p;
    const d = ad.counts[i] - p;
    if (d < 0) return undefined;
    if (d > 0) out.addAt(idx, d);
  }
  if (covered !== bd.counts.reduce((x, y) => x + y, 0)) return undefined;
  return out.toData();
}

function common(dp: Json, limits: PointLimits): { start: number; time: number; attributes: Attributes } {
  const time = nanosToMs(dp.timeUnixNano, 'timeUnixNano');
  if (time === 0) throw new PointError('timeUnixNano is required');
  const start = dp.startTimeUnixNano === undefined ? 0 : nanosToMs(dp.startTimeUnixNano, 'startTimeUnixNano');
  return { start, time, attributes: readAttributes(dp.attributes, limits) };
}

/** A point's attributes are its series' identity: past a limit the point is rejected, never changed. */
function readAttributes(list: unknown, limits: PointLimits): Attributes {
  const out: Attributes = {};
  if (list === undefined) return out;
  if (!Array.isArray(list)) throw new PointError('attributes must be an array');
  if (list.length > limits.attributes) throw new PointError(`more than ${limits.attributes} attributes (limits.attributes)`);
  for (const kv of list) {
    if (!isObj(kv) || typeof kv.key !== 'string' || kv.key.length === 0 || kv.key.length > 256) throw new PointError('attribute keys must be non-empty strings');
    const v = anyValue(kv.value);
    if (v.length > limits.attributeValueLength) throw new PointError(`attribute ${kv.key} is longer than ${limits.attributeValueLength} characters (limits.attributeValueLength)`);
    out[kv.key] = v;
  }
  return out;
}

function anyValue(v: unknown): string {
  if (!isObj(v)) return '';
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return String(v.boolValue);
  if (v.intValue !== undefined) return String(v.intValue);
  if (typeof v.doubleValue === 'number') return String(v.doubleValue);
  if (isObj(v.arrayValue) || isObj(v.kvlistValue)) return JSON.stringify(v.arrayValue ?? v.kvlistValue);
  if (typeof v.bytesValue === 'string') return v.bytesValue;
  return '';
}

function numberValue(dp: Json): number {
  const v = dp.asDouble !== undefined ? dp.asDouble : dp.asInt;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new PointError('asDouble or asInt must be a finite number');
  return n;
}

function optNum(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new PointError(`${JSON.stringify(v)} is not a finite number`);
  return n;
}

function count(v: unknown, field: string): number {
  const n = optNum(v) ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new PointError(`${field} must be a non-negative integer`);
  return n;
}

function numArray(v: unknown, field: string): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new PointError(`${field} must be an array`);
  return v.map((x) => {
    const n = typeof x === 'string' ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new PointError(`${field} must hold non-negative numbers`);
    return n;
  });
}

function nanosToMs(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v / 1e6);
  if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return Number(BigInt(v) / 1_000_000n);
  if (v === undefined) return 0;
  throw new PointError(`${field} must be an unsigned integer (nanoseconds since the epoch)`);
}

/**
 * Throws a TypeError when \`body\` is not an export request: its containers (resources, scopes, the
 * metrics lists) are checked, not the metrics or points. The server checks every slice of a request
 * before it stores any, so a bad container late in a request stores nothing.
 */
export function checkMetricsRequest(body: unknown): void {
  if (!isObj(body)) throw new TypeError('body must be an ExportMetricsServiceRequest object');
  const rms = body.resourceMetrics ?? [];
  if (!Array.isArray(rms)) throw new TypeError('resourceMetrics must be an array');
  for (const rm of rms) {
    if (!isObj(rm)) throw new TypeError('resourceMetrics[] must be objects');
    const sms = rm.scopeMetrics ?? [];
    if (!Array.isArray(sms)) throw new TypeError('scopeMetrics must be an array');
    for (const sm of sms) if (!isObj(sm) || (sm.metrics !== undefined && !Array.isArray(sm.metrics))) throw new TypeError('scopeMetrics[].metrics must be an array');
  }
}

function countPoints(m: unknown): number {
  if (!isObj(m)) return 1;
  for (const k of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
    const d = m[k];
    if (isObj(d) && Array.isArray(d.dataPoints)) return d.dataPoints.length;
  }
  return 0;
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
