// POST /v1/metrics and /v1/traces — OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp): protobuf or
// JSON, identity/gzip/deflate. One client's mistake costs its own data, never the server:
// - the body is capped before and after decompression, a JSON body's nesting before parsing, and a
//   large JSON body is parsed in a worker thread (ingest/json-parser.ts);
// - a request holds at most limits.pointsPerRequest points (spansPerRequest spans), counted before
//   anything is decoded → 413 that says how to batch;
// - requests wait in a bounded queue and are stored one at a time → 429 + Retry-After past it;
// - a request is decoded, checked and stored in slices of SLICE points, yielding to the event loop
//   between them, so /healthz and the API stay responsive during the largest accepted request;
// - active series are limited per metric of a service (overflow series), per service and in all
//   (docs/configuration.md#limits).
// A request is acknowledged only after every slice is committed, so a 200 survives a SIGKILL; a
// request cut short by a crash may be stored in part, and its retry then stores that part twice
// (at least once, as OTLP's own retries are).
import crypto from 'node:crypto';
import os from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PerformanceConfig } from '../config/schema.js';
import { PerfError } from '../errors.js';
import { decompress } from '../ingest/body.js';
import { JsonParser, type JsonSignal } from '../ingest/json-parser.js';
import { checkMetricsRequest, OtlpMetricsReader, type PointLimits } from '../ingest/otlp-metrics.js';
import { readTraces } from '../ingest/otlp-traces.js';
import { IngestQueue } from '../ingest/queue.js';
import { budgetKey, OVERFLOW, SeriesLimiter, type Overflow } from '../ingest/series-limit.js';
import type { MetricPoint } from '../model/metrics.js';
import { encodeMetricsResponse, encodeTracesResponse } from '../otlp/proto.js';
import { countMetricsProto, countTracesProto, sliceMetricsProto, sliceTracesProto } from '../otlp/slices.js';
import type { Store } from '../store/store.js';
import type { PrometheusView } from './prometheus.js';

/**
 * Points (or spans) read, limited and stored between two yields. A histogram point costs 50–60 µs
 * here from decode to commit, so a slice of 500 holds the event loop ~30 ms (docs/benchmarks.md,
 * Reliability: at 1,000 /healthz waited ~60 ms a probe).
 */
const SLICE = 500;
/** The self-metric that the built-in alert SeriesLimitReached watches. */
export const SERIES_OVERFLOW_METRIC = 'solemate.ingest.series.overflow';
/** Overflowing metrics remembered for /api/limits and /metrics (the most recent ones). */
const MAX_OVERFLOWING = 200;

export interface OverflowState extends Overflow {
  lastAt: number;
  /** points folded or rejected since the server started */
  total: number;
}

export interface IngestStats {
  requests: Record<'ok' | 'bad_request' | 'unauthorized' | 'store_error' | 'too_large' | 'busy', number>;
  acceptedPoints: number;
  rejectedPoints: number;
  acceptedSpans: number;
  rejectedSpans: number;
  /** span attributes dropped past limits.attributes, and values or names cut to limits.attributeValueLength */
  droppedAttributes: number;
  cutValues: number;
  /** service and metric (budgetKey) → what the series limits cost it */
  overflows: Map<string, OverflowState>;
  limiter: SeriesLimiter | undefined;
  queue: IngestQueue | undefined;
}

export interface IngestOptions {
  store: Store;
  view: PrometheusView;
  token?: string;
  config: PerformanceConfig;
  stats: IngestStats;
  clock?: () => number;
  /** called after a batch is stored: data points, spans */
  onStored?: (points: number, spans: number) => void;
}

export function newIngestStats(): IngestStats {
  return { requests: { ok: 0, bad_request: 0, unauthorized: 0, store_error: 0, too_large: 0, busy: 0 }, acceptedPoints: 0, rejectedPoints: 0, acceptedSpans: 0, rejectedSpans: 0, droppedAttributes: 0, cutValues: 0, overflows: new Map(), limiter: undefined, queue: undefined };
}

export async function ingestRoutes(app: FastifyInstance, opts: IngestOptions): Promise<void> {
  const { limits, server } = opts.config;
  const clock = opts.clock ?? Date.now;
  const pointLimits: PointLimits = { attributes: limits.attributes, resourceAttributes: limits.resourceAttributes, attributeValueLength: limits.attributeValueLength, maxPastMs: limits.maxAgeDays * 86_400_000, maxFutureMs: limits.futureMinutes * 60_000 };
  const reader = new OtlpMetricsReader({ limits: pointLimits });
  const limiter = new SeriesLimiter({ seriesPerMetric: limits.seriesPerMetric, seriesPerService: limits.seriesPerService, series: limits.series, windowMs: limits.seriesWindowMinutes * 60_000 });
  const queue = new IngestQueue(limits.queuedRequests);
  const stats = opts.stats;
  stats.limiter = limiter;
  stats.queue = queue;
  const instance = os.hostname();

  const raw = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, body);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer' }, raw);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, raw);

  const authorize = (req: FastifyRequest) => {
    if (opts.token !== undefined && !tokenMatches(req.headers.authorization, opts.token)) {
      stats.requests.unauthorized++;
      throw new PerfError('PERF_ERR_UNAUTHORIZED', 'missing or wrong ingest token: send "Authorization: Bearer <token>"');
    }
  };
  /** The request in the queue's turn; counts the way it ended. */
  const queued = <T>(job: () => Promise<T>): Promise<T> => {
    let run: Promise<T>;
    try {
      run = queue.run(job);
    } catch (e) {
      stats.requests.busy++;
      throw e;
    }
    return run.catch((e: unknown) => {
      if (e instanceof PerfError && e.code === 'PERF_ERR_PAYLOAD_TOO_LARGE') stats.requests.too_large++;
      else if (e instanceof PerfError && e.code === 'PERF_ERR_BAD_REQUEST') stats.requests.bad_request++;
      throw e;
    });
  };

  /**
   * Decompressed, counted against `max`, and cut into slices of the OTLP/JSON shape. Nothing of the
   * points is decoded before the count passed.
   */
  const json = new JsonParser({ depth: limits.jsonDepth, slice: SLICE });
  app.addHook('onClose', () => json.close());
  const open = async (req: FastifyRequest, what: string, max: number, limitName: string, proto: { count: (b: Uint8Array) => number; slice: (b: Uint8Array, n: number) => Iterable<object> }, signal: JsonSignal) => {
    const isProto = (req.headers['content-type'] ?? '').startsWith('application/x-protobuf');
    const body = await decompress(req.body as Buffer, String(req.headers['content-encoding'] ?? 'identity').toLowerCase(), server.maxDecompressed);
    let count: number;
    let slices: Iterable<object>;
    try {
      if (isProto) {
        count = proto.count(body);
        slices = proto.slice(body, SLICE);
      } else {
        ({ count, slices } = await json.parse(body, signal, max));
      }
    } catch (e) {
      if (e instanceof PerfError) throw e;
      throw new PerfError('PERF_ERR_BAD_REQUEST', `cannot decode ${isProto ? 'protobuf' : 'JSON'} ${what}: ${(e as Error).message}`);
    }
    if (count > max) throw new PerfError('PERF_ERR_PAYLOAD_TOO_LARGE', `this ${what} holds ${count} ${limitName === 'pointsPerRequest' ? 'data points' : 'spans'}; the limit is ${max} (limits.${limitName}): export in batches of at most ${max} (OpenTelemetry collector: the batch processor's send_batch_max_size)`);
    // every slice decoded before anything is read or stored: a bad point late in the request is a
    // 400 with nothing stored (and the cumulative streams untouched), not half a request
    const decoded: object[] = [];
    for (const slice of guarded(slices, what)) {
      decoded.push(slice);
      await yieldToLoop();
    }
    return { isProto, slices: decoded };
  };
  const durably = async (req: FastifyRequest, write: () => Promise<void>): Promise<void> => {
    try {
      await write();
    } catch (e) {
      stats.requests.store_error++;
      req.log.error({ err: e }, 'store write failed');
      // 503 is retryable in OTLP: the client keeps the batch and sends it again
      throw new PerfError('PERF_ERR_STORE', 'the store could not save this batch; retry later', { cause: e, retryAfter: 5 });
    }
  };

  app.post('/v1/metrics', async (req: FastifyRequest, reply: FastifyReply) => {
    authorize(req);
    const { isProto, response } = await queued(async () => {
      const { isProto, slices } = await open(req, 'ExportMetricsServiceRequest', limits.pointsPerRequest, 'pointsPerRequest', { count: countMetricsProto, slice: sliceMetricsProto }, 'metrics');
      let accepted = 0;
      let rejected = 0;
      const errors: string[] = [];
      const lost = new Map<string, Overflow>();
      // a request whose containers are wrong is not stored at all, also when the wrong one is late
      const notARequest = (e: unknown) => new PerfError('PERF_ERR_BAD_REQUEST', `not an ExportMetricsServiceRequest: ${(e as Error).message}`);
      try {
        for (const slice of slices) checkMetricsRequest(slice);
      } catch (e) {
        throw notARequest(e);
      }
      for (const slice of slices) {
        const now = clock();
        let read;
        try {
          read = reader.read(slice, now);
        } catch (e) {
          throw notARequest(e);
        }
        const admitted = limiter.admit(read.points, now);
        for (const o of admitted.overflows) {
          const had = lost.get(budgetKey(o.service, o.metric));
          lost.set(budgetKey(o.service, o.metric), { ...o, points: o.points + (had?.points ?? 0) });
        }
        await durably(req, () => opts.store.write(admitted.points));
        opts.view.add(admitted.points);
        accepted += admitted.points.length;
        rejected += read.rejected + admitted.rejected;
        for (const e of read.errors) if (errors.length < 20 && !errors.includes(e)) errors.push(e);
        await yieldToLoop();
      }
      if (lost.size > 0) await durably(req, () => recordOverflows([...lost.values()]));
      stats.requests.ok++;
      stats.acceptedPoints += accepted;
      stats.rejectedPoints += rejected;
      opts.onStored?.(accepted, 0);
      const messages = [...[...lost.values()].map(overflowMessage), ...errors];
      return { isProto, response: messages.length > 0 ? { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: messages.join('; ') } } : {} };
    });
    if (isProto) return reply.type('application/x-protobuf').send(Buffer.from(encodeMetricsResponse(response)));
    return reply.type('application/json').send(response);
  });

  app.post('/v1/traces', async (req: FastifyRequest, reply: FastifyReply) => {
    authorize(req);
    const { isProto, response } = await queued(async () => {
      const { isProto, slices } = await open(req, 'ExportTraceServiceRequest', limits.spansPerRequest, 'spansPerRequest', { count: countTracesProto, slice: sliceTracesProto }, 'traces');
      let accepted = 0;
      let rejected = 0;
      const errors: string[] = [];
      const perTrace = new Map<string, number>();
      for (const slice of slices) {
        let read;
        try {
          read = readTraces(slice, { ...pointLimits, spansPerTrace: limits.spansPerTrace }, clock(), perTrace);
        } catch (e) {
          throw new PerfError('PERF_ERR_BAD_REQUEST', `not an ExportTraceServiceRequest: ${(e as Error).message}`);
        }
        await durably(req, () => opts.store.writeSpans(read.spans));
        accepted += read.spans.length;
        rejected += read.rejected;
        stats.droppedAttributes += read.dropped;
        stats.cutValues += read.cut;
        for (const e of read.errors) if (errors.length < 20 && !errors.includes(e)) errors.push(e);
        await yieldToLoop();
      }
      stats.requests.ok++;
      stats.acceptedSpans += accepted;
      stats.rejectedSpans += rejected;
      opts.onStored?.(0, accepted);
      return { isProto, response: errors.length > 0 ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: errors.join('; ') } } : {} };
    });
    if (isProto) return reply.type('application/x-protobuf').send(Buffer.from(encodeTracesResponse(response)));
    return reply.type('application/json').send(response);
  });

  /** Remembered for /api/limits and /metrics, and stored as a counter that the built-in alert reads. */
  async function recordOverflows(lost: Overflow[]): Promise<void> {
    const now = clock();
    const points: MetricPoint[] = [];
    for (const o of lost) {
      const key = budgetKey(o.service, o.metric);
      const had = stats.overflows.get(key);
      stats.overflows.delete(key);
      stats.overflows.set(key, { ...o, lastAt: now, total: (had?.total ?? 0) + o.points });
      if (stats.overflows.size > MAX_OVERFLOWING) stats.overflows.delete(stats.overflows.keys().next().value as string);
      const attributes = { metric: o.metric, reason: o.reason, 'service.name': o.service, attribute: o.attribute ?? '' };
      points.push({ metric: SERIES_OVERFLOW_METRIC, kind: 'counter', unit: '{point}', description: 'points folded into the overflow series (series_per_metric) or rejected (series_total) by the series limits', service: 'solemate-perf', instance, attributes, startTime: now, time: now, count: 1, sum: o.points, min: 0, max: 0, last: 0 });
    }
    await opts.store.write(points);
  }
}

function overflowMessage(o: Overflow): string {
  const culprit = o.attribute ? `; attribute "${o.attribute}" has ${o.distinct} distinct values: leave it off this metric (put it on spans instead)` : '';
  if (o.reason === 'series_per_metric') return `${o.metric}: ${o.points} points of new series past limits.seriesPerMetric were folded into the series ${OVERFLOW}=true${culprit}`;
  if (o.reason === 'series_per_service') return `${o.metric}: ${o.points} points of new series were rejected: service ${o.service} holds limits.seriesPerService active series${culprit}`;
  return `${o.metric}: ${o.points} points of new series were rejected: the server holds limits.series active series${culprit}`;
}

/** A decoding error in a later slice is still the client's (400), not the server's. */
function* guarded(slices: Iterable<object>, what: string): Generator<object> {
  const it = slices[Symbol.iterator]();
  for (;;) {
    let next: IteratorResult<object>;
    try {
      next = it.next();
    } catch (e) {
      throw new PerfError('PERF_ERR_BAD_REQUEST', `cannot decode ${what}: ${(e as Error).message}`);
    }
    if (next.done) return;
    yield next.value;
  }
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const a = crypto.createHash('sha256').update(m[1]).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}
