// The I/O shell around the pure query functions: picks series and resolution, reads rows from the
// store, hands them to metrics / trends / status.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { PerformanceConfig } from '../config/schema.js';
import { PerfError } from '../errors.js';
import type { MetricKind } from '../model/metrics.js';
import { HOUR, MINUTE, type Row } from '../store/rows.js';
import type { SeriesRow, Store } from '../store/store.js';
import { FILESYSTEM_UTILIZATION, HTTP_SERVER_DURATION, PROCESS_CPU_UTILIZATION, PROCESS_MEMORY_UTILIZATION } from '../semconv.js';
import { matchSeries, parseDuration, parseTime, type PerformanceFilters } from './filters.js';
import { computePerformanceMetrics, type PerformanceMetrics } from './metrics.js';
import { computeStatus, type PerformanceStatus } from './status.js';
import { computeTrend, type PerformanceTrend, type TrendStatistic } from './trends.js';

/** Ranges longer than this read hourly rollups where they exist (a 7-day query reads 168 rows a series, not 10,080). */
export const HOURLY_ABOVE_MS = 6 * HOUR;
/** Default window of getPerformanceMetrics: "now" means the last five minutes. */
export const DEFAULT_WINDOW_MS = 5 * MINUTE;
const TREND_BUCKETS = 60;
/** Series read per store call: a query over many series reads in steps and lets the event loop run between them. */
const SERIES_PER_READ = 500;


export interface MetricInfo {
  name: string;
  kind: MetricKind;
  unit: string;
  series: number;
}

export class QueryEngine {
  constructor(
    private readonly store: Store,
    private readonly config: PerformanceConfig,
    private readonly clock: () => number = Date.now,
  ) {}

  listMetrics(): Promise<MetricInfo[]> {
    return this.store.listMetrics();
  }

  async series(metric: string, filters: PerformanceFilters = {}): Promise<SeriesRow[]> {
    return (await this.store.listSeries([metric])).filter((s) => matchSeries(s, filters, true));
  }

  /**
   * Hourly rows for whole rolled-up hours inside the range, minute rows for the rest, ordered by
   * time. Within the query budget (limits.querySeries, queryRows, queryTimeMs): past it a 422 that
   * says how to narrow the query, never an answer that takes the server's memory or event loop.
   */
  async readRange(seriesIds: number[], from: number, to: number): Promise<Row[]> {
    if (seriesIds.length === 0) return [];
    const started = performance.now();
    const parts: [number, number, 'minute' | 'hour'][] = [];
    const minuteFrom = Math.floor(from / MINUTE) * MINUTE;
    const wm = to - from <= HOURLY_ABOVE_MS ? 0 : await this.store.hourWatermark();
    const hourFrom = Math.ceil(from / HOUR) * HOUR;
    const hourTo = Math.min(wm, Math.floor(to / HOUR) * HOUR);
    if (hourTo <= hourFrom) parts.push([minuteFrom, to, 'minute']);
    else parts.push([minuteFrom, hourFrom, 'minute'], [hourFrom, hourTo, 'hour'], [hourTo, to, 'minute']);
    this.checkBudget(seriesIds.length, parts);
    const { queryTimeMs } = this.config.limits;
    const rows: Row[] = [];
    for (let i = 0; i < seriesIds.length; i += SERIES_PER_READ) {
      const ids = seriesIds.slice(i, i + SERIES_PER_READ);
      for (const [a, b, resolution] of parts) if (a < b) for (const r of await this.store.readRows(ids, a, b, resolution)) rows.push(r);
      if (performance.now() - started > queryTimeMs) throw this.overBudget('time', `reading ${seriesIds.length} series took longer than limits.queryTimeMs (${queryTimeMs} ms)`);
      if (i + SERIES_PER_READ < seriesIds.length) await yieldToLoop();
    }
    // each read is ordered by time, and the parts follow each other; reads of several steps are not
    if (seriesIds.length > SERIES_PER_READ) rows.sort((a, b) => a.t - b.t);
    return rows;
  }

  /** Queries answered 422 past each budget since the start (exposed on /metrics). */
  readonly overBudgetCount = { series: 0, rows: 0, time: 0 };

  private overBudget(which: keyof QueryEngine['overBudgetCount'], what: string): PerfError {
    this.overBudgetCount[which]++;
    return new PerfError('PERF_ERR_QUERY_BUDGET', `${what}: narrow it with service=, instance=, route= or tag.<attribute>=, or a shorter from/to`);
  }

  /** The rows a read may bring, counted before it runs: every series has at most one row per minute (hour). */
  private checkBudget(series: number, parts: [number, number, 'minute' | 'hour'][]): void {
    const { querySeries, queryRows } = this.config.limits;
    if (series > querySeries) throw this.overBudget('series', `this query matches ${series} series; the limit is ${querySeries} (limits.querySeries)`);
    const steps = parts.reduce((n, [a, b, resolution]) => n + Math.max(0, Math.ceil((b - a) / (resolution === 'hour' ? HOUR : MINUTE))), 0);
    if (series * steps > queryRows) throw this.overBudget('rows', `this query may read ${series} series × ${steps} minutes or hours = ${series * steps} rows; the limit is ${queryRows} (limits.queryRows)`);
  }

  window(filters: PerformanceFilters): { from: number; to: number } {
    const now = this.clock();
    const to = parseTime(filters.to, now, now);
    const from = parseTime(filters.from, now, to - DEFAULT_WINDOW_MS);
    if (!(from < to)) throw new RangeError(`from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
    return { from, to };
  }

  async getPerformanceMetrics(filters: PerformanceFilters = {}): Promise<PerformanceMetrics> {
    const { from, to } = this.window(filters);
    const all = await this.store.listSeries([HTTP_SERVER_DURATION, PROCESS_CPU_UTILIZATION, PROCESS_MEMORY_UTILIZATION, FILESYSTEM_UTILIZATION]);
    const pick = (metric: string, requestFilters: boolean) => all.filter((s) => s.metric === metric && matchSeries(s, filters, requestFilters));
    const requestSeries = pick(HTTP_SERVER_DURATION, true);
    const rows = async (series: SeriesRow[]) => this.readRange(series.map((s) => s.id), from, to);
    const [requestRows, cpuRows, memoryRows, diskRows] = await Promise.all([
      rows(requestSeries),
      rows(pick(PROCESS_CPU_UTILIZATION, false)),
      rows(pick(PROCESS_MEMORY_UTILIZATION, false)),
      rows(pick(FILESYSTEM_UTILIZATION, false)),
    ]);
    return computePerformanceMetrics({ from, to, requestSeries, requestRows, cpuRows, memoryRows, diskRows });
  }

  async getPerformanceTrends(metricName: string, period: string, options: { statistic?: TrendStatistic; filters?: PerformanceFilters; higherIsBetter?: boolean } = {}): Promise<PerformanceTrend> {
    const periodMs = parseDuration(period);
    const to = this.clock();
    const from = to - periodMs;
    const series = await this.series(metricName, options.filters);
    if (series.length === 0) throw new RangeError(`no data for metric "${metricName}"${options.filters ? ' with these filters' : ''}; GET /api/metrics/names lists what is stored`);
    const unitStep = periodMs > HOURLY_ABOVE_MS ? HOUR : MINUTE;
    const bucketMs = Math.max(unitStep, Math.ceil(periodMs / TREND_BUCKETS / unitStep) * unitStep);
    const rows = await this.readRange(series.map((s) => s.id), from, to);
    return computeTrend({ metricName, period, kind: series[0].kind, unit: series[0].unit, from: Math.floor(from / bucketMs) * bucketMs, to, bucketMs, rows, statistic: options.statistic, higherIsBetter: options.higherIsBetter });
  }

  async getPerformanceStatus(filters: PerformanceFilters = {}): Promise<PerformanceStatus> {
    const metrics = await this.getPerformanceMetrics(filters);
    return computeStatus(metrics, this.config, this.clock());
  }
}
