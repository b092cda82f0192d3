// Sends delta snapshots to any OTLP/HTTP receiver (our server, an OpenTelemetry collector).
// Never the app's problem, whatever the receiver does (refuses, hangs, answers 5xx or 429):
// - enqueue() only appends to a buffer bounded by items (maxBufferedPoints, in flight included);
//   past it the oldest queued items are dropped and counted (onDrop), so memory stays flat;
// - while queued, metric points of one series and one minute merge into one (the store keeps
//   minutes), so an outage costs a buffer the size of the app's series, not of the outage's length;
// - one background pump, so at most one request in flight per exporter, each one aborted after
//   timeoutMs, on one socket of its own (transport.ts): a hanging receiver holds one socket;
// - retries (retry.ts) follow the OTLP/HTTP spec's statuses, with exponential backoff and full
//   jitter, never before a Retry-After (capped at maxRetryAfterMs);
// - a batch is encoded once, a slice at a time, yielding to the event loop between slices, and
//   gzip runs off the main thread; nothing here throws into the caller or rejects unhandled.
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { mergePoints, minuteOf, seriesKey, type MetricPoint } from '../model/metrics.js';
import { buildMetricsRequest } from '../otlp/build.js';
import { encodeMetricsRequest, encodeTracesRequest, ExportMetricsServiceResponse, ExportTraceServiceResponse } from '../otlp/proto.js';
import { buildTracesRequest } from '../otlp/traces.js';
import type { TraceRecord } from '../model/spans.js';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, RETRYABLE_STATUSES, retryDelayMs } from './retry.js';
import { Transport } from './transport.js';

/** What differs between the signals: the path, and how a batch becomes an OTLP request. */
export interface OtlpSignal<T> {
  path: '/v1/metrics' | '/v1/traces';
  build(batch: T[]): object;
  encode(request: object): Uint8Array;
  /** items the receiver rejected in a 2xx answer (OTLP partial success) */
  rejected?(response: Uint8Array, json: boolean): number;
  /** queued items with one key merge into one (`merge` returns a new item); without it, none do */
  mergeKey?(item: T): string;
  merge?(queued: T, item: T): T;
}

type Decoder = typeof ExportMetricsServiceResponse;
function partialSuccess(type: Decoder, field: 'rejectedDataPoints' | 'rejectedSpans') {
  return (bytes: Uint8Array, json: boolean): number => {
    if (bytes.length === 0) return 0;
    const o = (json ? JSON.parse(Buffer.from(bytes).toString('utf8')) : type.toObject(type.decode(bytes), { longs: Number })) as { partialSuccess?: Record<string, unknown> };
    const n = Number(o?.partialSuccess?.[field] ?? 0);
    return Number.isFinite(n) && n > 0 ? n : 0;
  };
}

export const METRICS: OtlpSignal<MetricPoint> = {
  path: '/v1/metrics',
  build: buildMetricsRequest,
  encode: encodeMetricsRequest,
  rejected: partialSuccess(ExportMetricsServiceResponse, 'rejectedDataPoints'),
  mergeKey: (p) => `${p.kind}\u001e${minuteOf(p.time)}\u001e${seriesKey(p.metric, p.service, p.instance, p.attributes)}`,
  merge: mergePoints,
};
/** items are kept traces (a request's span tree each) */
export const TRACES: OtlpSignal<TraceRecord> = { path: '/v1/traces', build: buildTracesRequest, encode: encodeTracesRequest, rejected: partialSuccess(ExportTraceServiceResponse, 'rejectedSpans') };

const gzip = promisify(zlib.gzip);
/** a gzip'd request body */
type Body = Awaited<ReturnType<typeof gzip>>;

/**
 * Why items were dropped: the buffer was full; the receiver refused them (a non-retryable status,
 * or a partial success); every attempt failed; or the exporter was shut down with them unsent.
 */
export type ExportDropReason = 'buffer_full' | 'rejected' | 'retries_exhausted' | 'shutdown';

export interface OtlpExporterOptions<T = MetricPoint> {
  /** base URL; the signal's path (/v1/metrics, /v1/traces) is appended unless the URL already ends with it */
  endpoint: string;
  protocol?: 'http/protobuf' | 'http/json';
  headers?: Record<string, string>;
  /** items held, queued and in flight (default 50 000); past it the oldest queued are dropped */
  maxBufferedPoints?: number;
  /** items per request (default 5 000; never more than maxBufferedPoints) */
  maxBatchPoints?: number;
  /** per request, from connecting to the end of the answer (default 10 000 ms) */
  timeoutMs?: number;
  /** attempts per batch before it is dropped (default 8) */
  maxAttempts?: number;
  /** backoff before attempt n is random in [0, min(maxBackoffMs, baseBackoffMs·2^(n-1))] (defaults 500, 30 000 ms) */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** longest wait a Retry-After can impose (default 300 000 ms) */
  maxRetryAfterMs?: number;
  /** `items` are the dropped items themselves when known (empty for a partial success) */
  onDrop?: (count: number, reason: ExportDropReason, items: readonly T[]) => void;
}

export interface ExporterStats {
  sentPoints: number;
  /** items merged into a queued one of the same key (a metric series' minute) while they waited */
  mergedPoints: number;
  droppedPoints: number;
  failedAttempts: number;
  /** items queued or in flight; never above maxBufferedPoints */
  bufferedPoints: number;
  /** requests on the wire now: 0 or 1 */
  inFlight: number;
  lastError?: string;
}

/**
 * Encoding yields to the event loop once it has run this long: thousands of histogram points take
 * hundreds of milliseconds to build and encode (protobufjs converts every bucket count), which an
 * app would feel as one long stall per export.
 */
const YIELD_AFTER_MS = 4;
/** Items built and encoded between checks of the clock. */
const SLICE = 32;

type Chunk<T> = Map<string | number, T>;

type Attempt = { ok: true; rejected: number } | { ok: false; retryable: boolean; retryAfterMs?: number; error: string };

/** Sends items of one signal (metric points by default; traces with `TRACES`). */
export class OtlpHttpExporter<T = MetricPoint> {
  readonly url: string;
  readonly stats: ExporterStats = { sentPoints: 0, mergedPoints: 0, droppedPoints: 0, failedAttempts: 0, bufferedPoints: 0, inFlight: 0 };
  private readonly signal: OtlpSignal<T>;
  private readonly o: Required<Omit<OtlpExporterOptions<T>, 'onDrop' | 'headers'>> & Pick<OtlpExporterOptions<T>, 'onDrop' | 'headers'>;
  /** chunks of at most maxBatchPoints, oldest first, none of them in flight; keyed by merge key, or by a number when the signal does not merge */
  private readonly queue: Chunk<T>[] = [];
  /** the chunk that holds each queued item with a merge key */
  private readonly queuedIn = new Map<string, Chunk<T>>();
  private unkeyed = 0;
  private buffered = 0;
  private running = false;
  private pumping: Promise<void> = Promise.resolve();
  private closed = false;
  private wake: { done: () => void; cuttable: boolean } | undefined;
  private readonly transport: Transport;

  constructor(options: OtlpExporterOptions<T>, signal: OtlpSignal<T> = METRICS as unknown as OtlpSignal<T>) {
    this.o = { protocol: 'http/protobuf', maxBufferedPoints: 50_000, maxBatchPoints: 5_000, timeoutMs: 10_000, maxAttempts: 8, baseBackoffMs: 500, maxBackoffMs: 30_000, maxRetryAfterMs: MAX_RETRY_AFTER_MS, ...options };
    this.o.maxBufferedPoints = Math.max(1, Math.floor(this.o.maxBufferedPoints));
    this.o.maxBatchPoints = Math.max(1, Math.min(Math.floor(this.o.maxBatchPoints), this.o.maxBufferedPoints));
    this.signal = signal;
    const base = options.endpoint.replace(/\/+$/, '');
    this.url = base.endsWith(signal.path) ? base : `${base.replace(/\/v1\/(metrics|traces)$/, '')}${signal.path}`;
    this.transport = new Transport(this.url);
  }

  /** Queues items for the background pump; O(items), never waits, never throws. */
  enqueue(items: T[]): void {
    try {
      if (items.length === 0) return;
      if (this.closed) return this.drop(items.length, 'shutdown', items);
      let last = this.queue[this.queue.length - 1];
      let added = 0;
      // with nothing queued or in flight these items leave on the next turn: no key is worth its cost
      const mergeKey = this.running ? this.signal.mergeKey : undefined;
      for (const item of items) {
        const key = mergeKey?.(item);
        const holder = key === undefined ? undefined : this.queuedIn.get(key);
        if (holder) {
          holder.set(key!, this.signal.merge!(holder.get(key!)!, item));
          this.stats.mergedPoints++;
          continue;
        }
        if (!last || last.size >= this.o.maxBatchPoints) this.queue.push((last = new Map()));
        last.set(key ?? this.unkeyed++, item);
        if (key !== undefined) this.queuedIn.set(key, last);
        added++;
      }
      this.buffered += added;
      this.evict();
      this.stats.bufferedPoints = this.buffered;
      if (!this.running) {
        this.running = true;
        // on a later turn: enqueue() runs inside the app's work (a request's finish, for a kept
        // trace), and the pump starts by encoding, which is never the app's time to spend
        this.pumping = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.pump());
      }
    } catch (e) {
      this.stats.lastError = `enqueue: ${(e as Error).message}`;
    }
  }

  /** Resolves when everything buffered so far has been sent or dropped, or after timeoutMs. A backoff is cut short; a Retry-After is not. */
  async flush(timeoutMs = this.o.timeoutMs): Promise<void> {
    if (this.wake?.cuttable) this.wake.done();
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pumping, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Flushes for up to timeoutMs, then aborts the request in flight and drops (counts) what is left. */
  async shutdown(timeoutMs = this.o.timeoutMs): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    this.transport.abort();
    this.wake?.done();
    while (this.queue.length > 0) {
      const chunk = this.take();
      this.buffered -= chunk.length;
      this.drop(chunk.length, 'shutdown', chunk);
    }
    this.stats.bufferedPoints = this.buffered;
    await this.pumping;
    this.transport.close();
  }

  /** Drops the oldest queued items until the buffer is back under its cap (the batch in flight stays). */
  private evict(): void {
    let excess = this.buffered - this.o.maxBufferedPoints;
    while (excess > 0 && this.queue.length > 0) {
      const oldest = this.queue[0];
      let gone: T[];
      if (oldest.size <= excess) gone = this.take();
      else {
        gone = [];
        for (const [key, item] of oldest) {
          if (gone.length === excess) break;
          oldest.delete(key);
          if (typeof key === 'string') this.queuedIn.delete(key);
          gone.push(item);
        }
      }
      this.buffered -= gone.length;
      excess -= gone.length;
      this.drop(gone.length, 'buffer_full', gone);
    }
  }

  /** The oldest chunk, out of the queue: its items no longer take merges. */
  private take(): T[] {
    const chunk = this.queue.shift()!;
    for (const key of chunk.keys()) if (typeof key === 'string' && this.queuedIn.get(key) === chunk) this.queuedIn.delete(key);
    return [...chunk.values()];
  }

  private drop(n: number, reason: ExportDropReason, items: readonly T[]): void {
    this.stats.droppedPoints += n;
    try {
      this.o.onDrop?.(n, reason, items);
    } catch {
      // a drop callback must not stop the pump
    }
  }

  /** The only loop that sends: one batch at a time, so one request in flight at most. Never rejects. */
  private async pump(): Promise<void> {
    try {
      while (!this.closed && this.queue.length > 0) {
        const batch = this.take();
        try {
          await this.deliver(batch);
        } finally {
          this.buffered -= batch.length;
          this.stats.bufferedPoints = this.buffered;
        }
      }
    } catch (e) {
      this.stats.lastError = `export: ${(e as Error).message}`;
    } finally {
      this.running = false;
    }
  }

  private async deliver(batch: T[]): Promise<void> {
    let body: Body;
    try {
      body = await this.encode(batch);
    } catch (e) {
      // data the encoder cannot take would fail every time: not retried
      this.stats.lastError = `cannot encode a batch: ${(e as Error).message}`;
      return this.drop(batch.length, 'rejected', batch);
    }
    for (let attempt = 1; ; attempt++) {
      if (this.closed) return this.drop(batch.length, 'shutdown', batch);
      const r = await this.send(body);
      if (r.ok) {
        const rejected = Math.min(r.rejected, batch.length);
        this.stats.sentPoints += batch.length - rejected;
        if (rejected > 0) this.drop(rejected, 'rejected', []);
        return;
      }
      // an attempt cut off by shutdown() says nothing about the receiver
      if (this.closed) return this.drop(batch.length, 'shutdown', batch);
      this.stats.failedAttempts++;
      this.stats.lastError = r.error;
      if (!r.retryable) return this.drop(batch.length, 'rejected', batch);
      if (attempt >= this.o.maxAttempts) return this.drop(batch.length, 'retries_exhausted', batch);
      await this.sleep(retryDelayMs(attempt, r.retryAfterMs, this.o), r.retryAfterMs === undefined);
    }
  }

  /** Waits; flush() may cut a backoff short, only shutdown() a Retry-After. */
  private sleep(ms: number, cuttable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.wake = { done, cuttable };
    });
  }

  /** The gzip'd request body, built a slice at a time so a large batch never holds the event loop for long. */
  private async encode(batch: T[]): Promise<Body> {
    const json = this.o.protocol === 'http/json';
    const parts: Uint8Array[] = [];
    const jsonParts: string[] = [];
    let key: string | undefined;
    let since = performance.now();
    for (let i = 0; i < batch.length; i += SLICE) {
      const request = this.signal.build(batch.slice(i, i + SLICE)) as Record<string, unknown>;
      if (!json) {
        // protobuf messages concatenate: repeated fields (resourceMetrics, resourceSpans) append
        parts.push(this.signal.encode(request));
      } else {
        // every OTLP export request is one repeated field; its JSON arrays join the same way
        const keys = Object.keys(request);
        if (keys.length !== 1 || !Array.isArray(request[keys[0]]) || (key !== undefined && key !== keys[0])) throw new Error('unexpected OTLP request shape');
        key = keys[0];
        const s = JSON.stringify(request[key]);
        if (s.length > 2) jsonParts.push(s.slice(1, -1));
      }
      if (performance.now() - since > YIELD_AFTER_MS && i + SLICE < batch.length) {
        await new Promise((r) => setImmediate(r));
        since = performance.now();
      }
    }
    const raw = json ? Buffer.from(`{${JSON.stringify(key ?? 'resourceMetrics')}:[${jsonParts.join(',')}]}`) : Buffer.concat(parts);
    return gzip(raw);
  }

  private async send(body: Body): Promise<Attempt> {
    const json = this.o.protocol === 'http/json';
    this.stats.inFlight = 1;
    try {
      const headers = { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-encoding': 'gzip', ...this.o.headers };
      const res = await this.transport.post(body, headers, this.o.timeoutMs);
      if (res.status >= 200 && res.status < 300) {
        let rejected = 0;
        try {
          rejected = this.signal.rejected?.(res.body, String(res.headers['content-type'] ?? '').includes('json')) ?? 0;
        } catch {
          // an answer we cannot read is still a 2xx: the batch was accepted
        }
        return { ok: true, rejected };
      }
      const retryable = RETRYABLE_STATUSES.has(res.status);
      const retryAfter = res.headers['retry-after'];
      return { ok: false, retryable, retryAfterMs: retryable ? parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) : undefined, error: `HTTP ${res.status} from ${this.url}` };
    } catch (e) {
      const err = e as Error & { code?: string };
      return { ok: false, retryable: true, error: `${err.name}: ${err.message}${err.code ? ` (${err.code})` : ''} (${this.url})` };
    } finally {
      this.stats.inFlight = 0;
    }
  }
}
