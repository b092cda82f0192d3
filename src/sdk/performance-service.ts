// The PRD's PerformanceService: record* on the hot path (recorder), get* over HTTP from the
// performance server. A timer takes a delta snapshot every monitoring.interval and hands it to the
// exporter; shutdown() and SIGTERM flush what is left.
import { loadConfig, validateConfig } from '../config/load.js';
import type { PerformanceConfig, PerformanceConfigInput } from '../config/schema.js';
import { PerfError } from '../errors.js';
import { OtlpHttpExporter, TRACES, type ExportDropReason, type OtlpExporterOptions } from '../exporters/otlp.js';
import type { MetricPoint } from '../model/metrics.js';
import type { TraceRecord } from '../model/spans.js';
import type { PerformanceFilters } from '../query/filters.js';
import type { PerformanceMetrics } from '../query/metrics.js';
import type { PerformanceStatus } from '../query/status.js';
import type { PerformanceTrend } from '../query/trends.js';
import type { MetricInstrument } from './instruments.js';
import { Recorder } from './recorder.js';
import { startRuntimeSampler, type RuntimeSampler } from './runtime.js';
import { Tracer } from './tracing.js';

export interface PerformanceServiceOptions {
  /** full or partial PerformanceConfig; default: loadConfig() (SOLEMATE_PERF_CONFIG file + env) */
  config?: PerformanceConfigInput;
  service?: string;
  instance?: string;
  /** extra HTTP headers for export and queries; the ingest token comes from SOLEMATE_PERF_INGEST_TOKEN */
  headers?: Record<string, string>;
  runtimeMetrics?: boolean;
  /** flush on SIGTERM (default true) */
  handleSignals?: boolean;
  onWarning?: (code: string, message: string) => void;
  /** retry tuning of both exporters (defaults in exporters/otlp.ts); the buffer and timeout come from config.sdk */
  exporter?: Pick<OtlpExporterOptions, 'maxBatchPoints' | 'maxAttempts' | 'baseBackoffMs' | 'maxBackoffMs' | 'maxRetryAfterMs'>;
}

const DROPPED = 'solemate.sdk.dropped';
/** Kept traces held per exporter while the server is slow or down (each is one request's span tree). */
const MAX_BUFFERED_TRACES = 2_000;

/** Export losses as the recorder's drop reasons. */
function dropReason(why: ExportDropReason): 'export_buffer_full' | 'export_failed' {
  return why === 'buffer_full' ? 'export_buffer_full' : 'export_failed';
}

export class PerformanceService {
  readonly recorder: Recorder;
  readonly config: PerformanceConfig;
  readonly exporter: OtlpHttpExporter | undefined;
  /** request context and tracing; undefined when monitoring or monitoring.tracing is off */
  readonly tracer: Tracer | undefined;
  readonly traceExporter: OtlpHttpExporter<TraceRecord> | undefined;
  private readonly runtime: RuntimeSampler | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly headers: Record<string, string>;
  private readonly onSigterm: (() => void) | undefined;
  private stopped = false;

  constructor(options: PerformanceServiceOptions = {}) {
    this.config = options.config ? validateConfig(options.config) : loadConfig();
    const { sdk, monitoring } = this.config;
    this.recorder = new Recorder({ cardinalityLimit: sdk.cardinalityLimit, service: options.service ?? sdk.service, instance: options.instance, onWarning: options.onWarning });
    const token = process.env.SOLEMATE_PERF_INGEST_TOKEN;
    this.headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers };
    if (!monitoring.enabled) return;
    const retry = options.exporter ?? {};
    this.exporter = new OtlpHttpExporter({
      ...retry,
      endpoint: sdk.endpoint,
      protocol: sdk.protocol,
      headers: this.headers,
      maxBufferedPoints: sdk.maxBufferedPoints,
      timeoutMs: sdk.timeoutMs,
      // export losses surface as solemate.sdk.dropped{reason} in the next snapshot; a lost batch
      // may itself carry drop counts, which are carried over so that they still arrive
      onDrop: (n, why, items) => {
        this.recorder.dropped[dropReason(why)] += n;
        for (const p of items) if (p.metric === DROPPED) this.carriedDrops.set(p.attributes.reason, (this.carriedDrops.get(p.attributes.reason) ?? 0) + p.sum);
      },
    });
    if (monitoring.tracing.enabled) {
      const traces = new OtlpHttpExporter<TraceRecord>(
        { maxBatchPoints: 200, ...retry, endpoint: sdk.endpoint, protocol: sdk.protocol, headers: this.headers, maxBufferedPoints: MAX_BUFFERED_TRACES, timeoutMs: sdk.timeoutMs, onDrop: (n, why) => (this.recorder.dropped[dropReason(why)] += n) },
        TRACES,
      );
      this.traceExporter = traces;
      this.tracer = new Tracer({
        recorder: this.recorder,
        sampler: { slowestPerRoute: monitoring.tracing.slowestPerRoute, maxPerWindow: monitoring.tracing.maxTracesPerMinute },
        // kept traces wait for the next snapshot, so they travel in one request per interval
        onTrace: (t) => {
          if (this.pendingTraces.length < MAX_BUFFERED_TRACES) this.pendingTraces.push(t);
          else this.recorder.dropped.export_buffer_full++;
        },
      });
    }
    if (options.runtimeMetrics !== false) this.runtime = startRuntimeSampler(this.recorder);
    this.timer = setInterval(() => this.tick(), monitoring.interval);
    this.timer.unref();
    if (options.handleSignals !== false) {
      this.onSigterm = () => {
        void this.shutdown().finally(() => {
          // re-raise only if nobody else handles SIGTERM, so the default exit still happens
          if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
        });
      };
      process.once('SIGTERM', this.onSigterm);
    }
  }

  private histograms = new Map<string, MetricInstrument>();
  private pendingTraces: TraceRecord[] = [];
  /** drop counts whose own report was dropped, by reason: sent again with the next snapshot */
  private readonly carriedDrops = new Map<string, number>();

  /** Gauge: the current value of something (queue length, cache size). */
  recordMetric(metricName: string, value: number, tags?: Record<string, string>): void {
    this.recorder.gauge(metricName).record(value, tags);
  }

  /** Duration in milliseconds of an operation; stored as histogram `<operationName>.duration` (ms). */
  recordTiming(operationName: string, duration: number, tags?: Record<string, string>): void {
    let h = this.histograms.get(operationName);
    if (!h) this.histograms.set(operationName, (h = this.recorder.histogram(`${operationName}.duration`, { unit: 'ms' })));
    h.record(duration, tags);
  }

  recordCounter(metricName: string, increment: number, tags?: Record<string, string>): void {
    this.recorder.counter(metricName).record(increment, tags);
  }

  recordHistogram(metricName: string, value: number, tags?: Record<string, string>): void {
    this.recorder.histogram(metricName).record(value, tags);
  }

  /** Takes a snapshot now and queues it for export; returns what was collected. */
  tick(now = Date.now()): MetricPoint[] {
    try {
      this.runtime?.sample();
      const points = this.recorder.collect(now);
      this.carryDrops(points, now);
      this.exporter?.enqueue(points);
      if (this.pendingTraces.length > 0) {
        this.traceExporter?.enqueue(this.pendingTraces);
        this.pendingTraces = [];
      }
      return points;
    } catch (e) {
      // a bug in collection must never surface in the app; it is warned about, once per message
      process.emitWarning(`solemate-performance collection failed: ${(e as Error).message}`, { code: 'PERF_W_COLLECT' });
      return [];
    }
  }

  /** Adds the carried drop counts to this snapshot's solemate.sdk.dropped points. */
  private carryDrops(points: MetricPoint[], now: number): void {
    if (this.carriedDrops.size === 0) return;
    for (const [reason, n] of this.carriedDrops) {
      const p = points.find((q) => q.metric === DROPPED && q.attributes.reason === reason);
      if (p) {
        p.count += n;
        p.sum += n;
      } else {
        const { service, instance } = this.recorder;
        points.push({ metric: DROPPED, kind: 'counter', unit: '{record}', service, instance, attributes: { reason }, startTime: now, time: now, count: n, sum: n, min: 0, max: 0, last: 0 });
      }
    }
    this.carriedDrops.clear();
  }

  /** Sends everything recorded so far. */
  async flush(timeoutMs?: number): Promise<void> {
    this.tick();
    await Promise.all([this.exporter?.flush(timeoutMs), this.traceExporter?.flush(timeoutMs)]);
  }

  async shutdown(timeoutMs?: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.onSigterm) process.removeListener('SIGTERM', this.onSigterm);
    this.runtime?.stop();
    this.tick();
    await Promise.all([this.exporter?.shutdown(timeoutMs), this.traceExporter?.shutdown(timeoutMs)]);
  }

  getPerformanceMetrics(filters: PerformanceFilters = {}): Promise<PerformanceMetrics> {
    return this.query('/api/metrics', toQuery(filters));
  }

  getPerformanceTrends(metricName: string, period: string): Promise<PerformanceTrend> {
    return this.query('/api/trends', { metric: metricName, period });
  }

  getPerformanceStatus(filters: PerformanceFilters = {}): Promise<PerformanceStatus> {
    return this.query('/api/status', toQuery(filters));
  }

  private async query<T>(path: string, params: Record<string, string>): Promise<T> {
    const url = `${this.config.sdk.endpoint.replace(/\/+$/, '')}${path}?${new URLSearchParams(params)}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.headers, signal: AbortSignal.timeout(this.config.sdk.timeoutMs) });
    } catch (e) {
      throw new PerfError('PERF_ERR_UNREACHABLE', `cannot reach the performance server at ${url}: ${(e as Error).message}. Is "solemate-perf start" running?`);
    }
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    if (!res.ok) throw new PerfError(res.status < 500 ? 'PERF_ERR_QUERY' : 'PERF_ERR_UNREACHABLE', `${url}: HTTP ${res.status}: ${body.message ?? 'no message'}`);
    return body as T;
  }
}

export function toQuery(f: PerformanceFilters): Record<string, string> {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined) continue;
    if (k === 'tags') for (const [tk, tv] of Object.entries(v as Record<string, string>)) q[`tag.${tk}`] = tv;
    else q[k] = v instanceof Date ? String(v.getTime()) : String(v);
  }
  return q;
}

export function createPerformanceService(options: PerformanceServiceOptions = {}): PerformanceService {
  return new PerformanceService(options);
}
