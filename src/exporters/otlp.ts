// Sends delta snapshots to any OTLP/HTTP receiver (our server, an OpenTelemetry collector).
// Never blocks the app: enqueue() only appends to a bounded buffer (oldest points dropped and
// counted); a single background pump sends gzip'd batches, retrying retryable failures with
// exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { MetricPoint } from '../model/metrics.js';
import { buildMetricsRequest } from '../otlp/build.js';
import { encodeMetricsRequest, encodeTracesRequest } from '../otlp/proto.js';
import { buildTracesRequest } from '../otlp/traces.js';
import type { TraceRecord } from '../model/spans.js';

/** What differs between the signals: the path, and how a batch becomes an OTLP request. */
export interface OtlpSignal<T> {
  path: '/v1/metrics' | '/v1/traces';
  build(batch: T[]): object;
  encode(request: object): Uint8Array;
}
export const METRICS: OtlpSignal<MetricPoint> = { path: '/v1/metrics', build: buildMetricsRequest, encode: encodeMetricsRequest };
/** items are kept traces (a request's span tree each) */
export const TRACES: OtlpSignal<TraceRecord> = { path: '/v1/traces', build: buildTracesRequest, encode: encodeTracesRequest };

const gzip = promisify(zlib.gzip);

export interface OtlpExporterOptions {
  /** base URL; the signal's path (/v1/metrics, /v1/traces) is appended unless the URL already ends with it */
  endpoint: string;
  protocol?: 'http/protobuf' | 'http/json';
  headers?: Record<string, string>;
  maxBufferedPoints?: number;
  maxBatchPoints?: number;
  timeoutMs?: number;
  /** attempts per batch before it is dropped (counted) */
  maxAttempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onDrop?: (points: number, reason: 'buffer_full' | 'rejected' | 'retries_exhausted') => void;
}

export interface ExporterStats {
  sentPoints: number;
  droppedPoints: number;
  failedAttempts: number;
  bufferedPoints: number;
  lastError?: string;
}

/** HTTP statuses the OTLP spec calls retryable. */
const RETRYABLE = new Set([408, 429, 502, 503, 504]);

/** Sends items of one signal (metric points by default; traces with `TRACES`). */
export class OtlpHttpExporter<T = MetricPoint> {
  readonly url: string;
  private readonly signal: OtlpSignal<T>;
  private readonly queue: T[][] = [];
  private buffered = 0;
  private pumping: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  readonly stats: ExporterStats = { sentPoints: 0, droppedPoints: 0, failedAttempts: 0, bufferedPoints: 0 };
  private readonly o: Required<Omit<OtlpExporterOptions, 'onDrop' | 'headers'>> & Pick<OtlpExporterOptions, 'onDrop' | 'headers'>;

  constructor(options: OtlpExporterOptions, signal: OtlpSignal<T> = METRICS as unknown as OtlpSignal<T>) {
    this.o = { protocol: 'http/protobuf', maxBufferedPoints: 50_000, maxBatchPoints: 5_000, timeoutMs: 10_000, maxAttempts: 8, baseBackoffMs: 500, maxBackoffMs: 30_000, ...options };
    this.signal = signal;
    const base = options.endpoint.replace(/\/+$/, '');
    this.url = base.endsWith(signal.path) ? base : `${base.replace(/\/v1\/(metrics|traces)$/, '')}${signal.path}`;
  }

  enqueue(points: T[]): void {
    if (points.length === 0 || this.closed) return;
    for (let i = 0; i < points.length; i += this.o.maxBatchPoints) {
      const batch = points.slice(i, i + this.o.maxBatchPoints);
      this.queue.push(batch);
      this.buffered += batch.length;
    }
    // the oldest batch not already in flight goes first
    while (this.buffered > this.o.maxBufferedPoints && this.queue.length > 1) {
      const [old] = this.queue.splice(this.pumping ? 1 : 0, 1);
      this.buffered -= old.length;
      this.drop(old.length, 'buffer_full');
    }
    this.stats.bufferedPoints = this.buffered;
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  /** Resolves when everything buffered so far has been sent or dropped, or after timeoutMs. */
  async flush(timeoutMs = this.o.timeoutMs): Promise<void> {
    this.wake?.();
    if (!this.pumping) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.pumping, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  async shutdown(timeoutMs = this.o.timeoutMs): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
  }

  private drop(n: number, reason: 'buffer_full' | 'rejected' | 'retries_exhausted'): void {
    this.stats.droppedPoints += n;
    try {
      this.o.onDrop?.(n, reason);
    } catch {
      // a drop callback must not stop the pump
    }
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue[0];
      let attempt = 0;
      while (true) {
        attempt++;
        const r = await this.send(batch);
        if (r.ok) {
          this.stats.sentPoints += batch.length;
          break;
        }
        this.stats.failedAttempts++;
        this.stats.lastError = r.error;
        if (!r.retryable) {
          this.drop(batch.length, 'rejected');
          break;
        }
        if (attempt >= this.o.maxAttempts || this.closed) {
          this.drop(batch.length, 'retries_exhausted');
          break;
        }
        const cap = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (attempt - 1));
        await this.sleep(Math.max(r.retryAfterMs ?? 0, Math.random() * cap));
      }
      this.queue.shift();
      this.buffered -= batch.length;
      this.stats.bufferedPoints = this.buffered;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done; // flush() cuts a backoff short so shutdown does not wait it out
    });
  }

  private async send(batch: T[]): Promise<{ ok: boolean; retryable?: boolean; retryAfterMs?: number; error?: string }> {
    const request = this.signal.build(batch);
    const json = this.o.protocol === 'http/json';
    try {
      const body = await gzip(json ? Buffer.from(JSON.stringify(request)) : this.signal.encode(request));
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-encoding': 'gzip', ...this.o.headers },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true };
      const retryAfter = Number(res.headers.get('retry-after'));
      return { ok: false, retryable: RETRYABLE.has(res.status), retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined, error: `HTTP ${res.status} from ${this.url}` };
    } catch (e) {
      return { ok: false, retryable: true, error: `${(e as Error).name}: ${(e as Error).message} (${this.url})` };
    }
  }
}
