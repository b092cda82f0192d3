// The PRD's PerformanceTrend: a series bucketed over the period, a Theil–Sen fit and a Mann–Kendall
// test. "improving"/"degrading" only when the trend is significant at α = 0.05; otherwise "stable".
import type { MetricKind } from '../model/metrics.js';
import type { Row } from '../store/rows.js';
import { mergeRows, round } from './metrics.js';
import { theilSenMannKendall } from './stats.js';

/** Significance level of the Mann–Kendall test. */
export const TREND_ALPHA = 0.05;

export type TrendStatistic = 'p50' | 'p90' | 'p95' | 'p99' | 'avg' | 'max' | 'rate' | 'last';

export interface PerformanceTrend {
  metricName: string;
  period: string;
  statistic: TrendStatistic;
  unit: string;
  dataPoints: { timestamp: string; value: number }[];
  trend: 'improving' | 'stable' | 'degrading';
  /** % change of the fitted line from the first to the last point */
  change: number;
  slopePerHour: number;
  pValue: number | null;
  method: string;
}

export interface TrendInput {
  metricName: string;
  period: string;
  kind: MetricKind;
  unit: string;
  from: number;
  to: number;
  bucketMs: number;
  rows: Row[];
  statistic?: TrendStatistic;
  higherIsBetter?: boolean;
}

export function defaultStatistic(kind: MetricKind): TrendStatistic {
  return kind === 'histogram' ? 'p95' : kind === 'counter' ? 'rate' : 'avg';
}

/** Throughput-like counters are better when higher; latencies, errors and resource use when lower. */
export function inferHigherIsBetter(metric: string, kind: MetricKind): boolean {
  if (/error|fail|drop|reject|timeout|retry/i.test(metric)) return false;
  return kind === 'counter';
}

export function computeTrend(input: TrendInput): PerformanceTrend {
  const statistic = input.statistic ?? defaultStatistic(input.kind);
  const buckets = new Map<number, Row[]>();
  for (const r of input.rows) {
    const b = input.from + Math.floor((r.t - input.from) / input.bucketMs) * input.bucketMs;
    const list = buckets.get(b);
    if (list) list.push(r);
    else buckets.set(b, [r]);
  }
  const xs: number[] = [];
  const ys: number[] = [];
  const dataPoints: PerformanceTrend['dataPoints'] = [];
  for (const t of [...buckets.keys()].sort((a, b) => a - b)) {
    const v = value(buckets.get(t) as Row[], statistic, input.bucketMs);
    if (v === null) continue;
    xs.push(t);
    ys.push(v);
    dataPoints.push({ timestamp: new Date(t).toISOString(), value: round(v) });
  }
  const method = `Theil–Sen slope over ${dataPoints.length} buckets of ${input.bucketMs / 60_000} min; Mann–Kendall test, α = ${TREND_ALPHA}`;
  const base = { metricName: input.metricName, period: input.period, statistic, unit: statistic === 'rate' ? `${input.unit || '1'}/s` : input.unit, dataPoints, method };
  if (xs.length < 4) return { ...base, trend: 'stable', change: 0, slopePerHour: 0, pValue: null, method: `${method} (fewer than 4 points: no test)` };
  const fit = theilSenMannKendall(xs, ys);
  const start = fit.intercept + fit.slope * xs[0];
  const end = fit.intercept + fit.slope * xs[xs.length - 1];
  const change = start !== 0 ? ((end - start) / Math.abs(start)) * 100 : 0;
  const higherIsBetter = input.higherIsBetter ?? inferHigherIsBetter(input.metricName, input.kind);
  let trend: PerformanceTrend['trend'] = 'stable';
  if (fit.pValue < TREND_ALPHA && fit.slope !== 0) trend = fit.slope > 0 === higherIsBetter ? 'improving' : 'degrading';
  return { ...base, trend, change: round(change, 2), slopePerHour: round(fit.slope * 3_600_000), pValue: round(fit.pValue, 6) };
}

function value(rows: Row[], statistic: TrendStatistic, bucketMs: number): number | null {
  let count = 0;
  let sum = 0;
  let max = -Infinity;
  let last = 0;
  let lastTime = -Infinity;
  for (const r of rows) {
    count += r.count;
    sum += r.sum;
    if (r.max > max) max = r.max;
    if (r.lastTime > lastTime) {
      lastTime = r.lastTime;
      last = r.last;
    }
  }
  if (statistic === 'rate') return sum / (bucketMs / 1000);
  if (count === 0) return null;
  switch (statistic) {
    case 'avg':
      return sum / count;
    case 'max':
      return max;
    case 'last':
      return last;
    default: {
      const q = Number(statistic.slice(1)) / 100;
      const h = mergeRows(rows);
      return h.count > 0 ? h.quantile(q) : null;
    }
  }
}
