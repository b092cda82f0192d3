// The PRD's PerformanceMetrics, computed from stored rollups. Percentiles come from merged
// histograms (never an average of percentiles); rates divide by the time the data covers.
import { ExpHistogram, relativeErrorBound, MAX_SCALE } from '../model/histogram.js';
import type { Row } from '../store/rows.js';
import type { SeriesRow } from '../store/store.js';
import { ATTR_ERROR_TYPE, ATTR_STATUS, toMillis } from '../semconv.js';

export interface PerformanceMetrics {
  from: string;
  to: string;
  /** ms; null when no request was recorded in the window */
  responseTime: { average: number | null; p50: number | null; p95: number | null; p99: number | null; max: number | null; relativeError: number };
  throughput: { requestsPerSecond: number; requestsPerMinute: number; requests: number; windowSeconds: number };
  errorRate: { percentage: number | null; count: number };
  /** percentages averaged over the window; null when the runtime sampler sent nothing */
  resourceUsage: { cpu: number | null; memory: number | null; disk: number | null };
  source: string;
}

export interface MetricsInput {
  from: number;
  to: number;
  requestSeries: SeriesRow[];
  requestRows: Row[];
  cpuRows: Row[];
  memoryRows: Row[];
  diskRows: Row[];
}

export function isErrorSeries(s: SeriesRow): boolean {
  const status = Number(s.attributes[ATTR_STATUS]);
  return s.attributes[ATTR_ERROR_TYPE] !== undefined || status >= 500;
}

export function mergeRows(rows: Row[]): ExpHistogram {
  const h = new ExpHistogram(MAX_SCALE);
  for (const r of rows) if (r.hist && r.count > 0) h.merge({ count: r.count, sum: r.sum, min: r.min, max: r.max, hist: r.hist });
  return h;
}

/** Average of gauge rows (sum / observations), as a percentage of a ratio metric. */
export function gaugePercent(rows: Row[]): number | null {
  let sum = 0;
  let n = 0;
  for (const r of rows) {
    sum += r.sum;
    n += r.count;
  }
  return n > 0 ? round((sum / n) * 100) : null;
}

export function computePerformanceMetrics(input: MetricsInput): PerformanceMetrics {
  const { from, to } = input;
  const byId = new Map(input.requestSeries.map((s) => [s.id, s]));
  const h = mergeRows(input.requestRows);
  const unitMs = toMillis(input.requestSeries[0]?.unit ?? 's');
  let errors = 0;
  let firstT = Infinity;
  for (const r of input.requestRows) {
    const s = byId.get(r.seriesId);
    if (s && isErrorSeries(s)) errors += r.count;
    if (r.t < firstT) firstT = r.t;
  }
  const requests = h.count;
  // A service that started inside the window is measured over the time it was up.
  const windowMs = Math.max(1000, to - Math.max(from, Number.isFinite(firstT) ? firstT : from));
  const q = (p: number) => (requests > 0 ? round(h.quantile(p) * unitMs) : null);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    responseTime: {
      average: requests > 0 ? round((h.sum / requests) * unitMs) : null,
      p50: q(0.5),
      p95: q(0.95),
      p99: q(0.99),
      max: requests > 0 ? round(h.max * unitMs) : null,
      relativeError: round(relativeErrorBound(h.scale)),
    },
    throughput: {
      requestsPerSecond: round(requests / (windowMs / 1000)),
      requestsPerMinute: round(requests / (windowMs / 60_000)),
      requests,
      windowSeconds: round(windowMs / 1000),
    },
    errorRate: { percentage: requests > 0 ? round((errors / requests) * 100) : null, count: errors },
    resourceUsage: { cpu: gaugePercent(input.cpuRows), memory: gaugePercent(input.memoryRows), disk: gaugePercent(input.diskRows) },
    source: `${input.requestRows.length} stored rollups of ${input.requestSeries.length} http.server.request.duration series; percentiles from merged base-2 exponential histograms`,
  };
}

export function round(v: number, digits = 4): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
