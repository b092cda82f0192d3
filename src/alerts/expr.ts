// A rule's condition, evaluated over stored rollups: the metric's series matching the filters,
// grouped by the `by` labels, aggregated over the window. Durations are compared in milliseconds
// (a histogram in seconds is scaled), error_ratio is failed / all requests (0–1), rate is per second.
import type { QueryEngine } from '../query/engine.js';
import { matchSeries } from '../query/filters.js';
import { isErrorSeries, mergeRows } from '../query/metrics.js';
import { ExpHistogram, MAX_SCALE } from '../model/histogram.js';
import type { Row } from '../store/rows.js';
import type { SeriesRow } from '../store/store.js';
import { toMillis } from '../semconv.js';
import type { AlertExpr } from './rules.js';
export { compare } from '../query/compare.js';

export interface Sample {
  /** the by-labels of this instance */
  labels: Record<string, string>;
  value: number;
}

const ALIASES: Record<string, string> = { route: 'http.route', method: 'http.request.method', status: 'http.response.status_code' };
const TIME_UNITS = new Set(['s', 'ms', 'us', 'µs', 'ns']);

function labelOf(s: SeriesRow, key: string): string {
  if (key === 'service') return s.service;
  if (key === 'instance') return s.instance;
  return s.attributes[ALIASES[key] ?? key] ?? '';
}

/**
 * What one evaluation cycle reads once and every rule shares: the series of a metric, and their
 * rows over a window (a thousand rules over the same metric cost one read, not a thousand).
 */
export class CycleReads {
  private readonly series = new Map<string, Promise<SeriesRow[]>>();
  private readonly rows = new Map<string, Promise<Map<number, Row[]>>>();
  constructor(
    private readonly engine: QueryEngine,
    readonly now: number,
  ) {}

  seriesOf(metric: string): Promise<SeriesRow[]> {
    let s = this.series.get(metric);
    if (!s) this.series.set(metric, (s = this.engine.series(metric)));
    return s;
  }

  private readonly hists = new Map<string, ExpHistogram>();
  private readonly matched = new Map<string, Promise<SeriesRow[]>>();

  /** The metric's series matching the filters; rules with the same filters share the scan. */
  matching(metric: string, filters: AlertExpr['filters']): Promise<SeriesRow[]> {
    const key = `${metric}\u0000${JSON.stringify(filters)}`;
    let m = this.matched.get(key);
    if (!m) this.matched.set(key, (m = this.seriesOf(metric).then((all) => all.filter((s) => matchSeries(s, filters, true)))));
    return m;
  }

  /** A series' rows of the window merged into one histogram, once per cycle. */
  histOf(windowMs: number, seriesId: number, rows: Row[]): ExpHistogram {
    const key = `${windowMs}:${seriesId}`;
    let h = this.hists.get(key);
    if (!h) this.hists.set(key, (h = mergeRows(rows)));
    return h;
  }

  rowsOf(metric: string, windowMs: number): Promise<Map<number, Row[]>> {
    const key = `${metric}\u0000${windowMs}`;
    let r = this.rows.get(key);
    if (!r) {
      r = this.seriesOf(metric).then(async (series) => {
        const by = new Map<number, Row[]>();
        for (const row of await this.engine.readRange(series.map((s) => s.id), this.now - windowMs, this.now)) {
          const list = by.get(row.seriesId);
          if (list) list.push(row);
          else by.set(row.seriesId, [row]);
        }
        return by;
      });
      this.rows.set(key, r);
    }
    return r;
  }
}

export async function evaluateExpr(reads: CycleReads, e: AlertExpr, windowMs: number): Promise<Sample[]> {
  const series = await reads.matching(e.metric, e.filters);
  if (series.length === 0) return [];
  const rowsBySeries = await reads.rowsOf(e.metric, windowMs);
  const byId = new Map(series.map((s) => [s.id, s]));
  const groups = new Map<string, { labels: Record<string, string>; rows: Row[]; series: SeriesRow[] }>();
  const quantile = e.aggregation[0] === 'p' ? Number(e.aggregation.slice(1)) / 100 : undefined;
  for (const s of series) {
    const labels = Object.fromEntries(e.by.map((k) => [k, labelOf(s, k)]));
    const key = JSON.stringify(labels);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { labels, rows: [], series: [] }));
    g.series.push(s);
  }
  for (const g of groups.values()) for (const s of g.series) for (const r of rowsBySeries.get(s.id) ?? []) g.rows.push(r);
  const out: Sample[] = [];
  for (const g of groups.values()) {
    if (g.rows.length === 0) continue;
    const value = quantile === undefined ? aggregate(e, g.rows, byId, windowMs) : groupQuantile(reads, g.series, rowsBySeries, windowMs, quantile);
    if (value !== undefined && Number.isFinite(value)) out.push({ labels: g.labels, value });
  }
  return out;
}

/** p50 … p99 of a group: per-series merged histograms (cached for the cycle), merged again only when the group has several series. */
function groupQuantile(reads: CycleReads, series: SeriesRow[], rowsBySeries: Map<number, Row[]>, windowMs: number, q: number): number | undefined {
  if (series[0].kind !== 'histogram') return undefined;
  const factor = TIME_UNITS.has(series[0].unit) ? toMillis(series[0].unit) : 1;
  const hs = series.map((s) => reads.histOf(windowMs, s.id, rowsBySeries.get(s.id) ?? [])).filter((h) => h.count > 0);
  if (hs.length === 0) return undefined;
  let h = hs[0];
  if (hs.length > 1) {
    h = new ExpHistogram(MAX_SCALE);
    for (const x of hs) h.merge(x);
  }
  return h.quantile(q) * factor;
}

function aggregate(e: AlertExpr, rows: Row[], byId: Map<number, SeriesRow>, windowMs: number): number | undefined {
  const first = byId.get(rows[0].seriesId)!;
  const factor = TIME_UNITS.has(first.unit) ? toMillis(first.unit) : 1;
  const seconds = windowMs / 1000;
  let count = 0;
  let sum = 0;
  for (const r of rows) {
    count += r.count;
    sum += r.sum;
  }
  switch (e.aggregation) {
    case 'rate':
      return (first.kind === 'counter' ? sum : count) / seconds;
    case 'count':
      return first.kind === 'counter' ? sum : count;
    case 'error_ratio': {
      let errors = 0;
      for (const r of rows) if (isErrorSeries(byId.get(r.seriesId)!)) errors += r.count;
      return count > 0 ? errors / count : undefined;
    }
    case 'last': {
      const latest = rows.reduce((a, b) => (b.lastTime > a.lastTime ? b : a));
      return latest.last * factor;
    }
    case 'avg':
      return count > 0 ? (sum / count) * factor : undefined;
    case 'max':
      return Math.max(...rows.map((r) => r.max)) * factor;
    case 'min':
      return Math.min(...rows.map((r) => r.min)) * factor;
    default:
      return undefined; // quantiles: groupQuantile
  }
}
