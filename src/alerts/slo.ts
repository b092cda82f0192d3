// Service level objectives from the PRD's success metrics, with error budgets over a rolling
// window and the Google SRE Workbook's multiwindow, multi-burn-rate alerts (chapter 5, "Alerting
// on SLOs"): page when the budget burns 14.4× too fast over 1 h and 5 m, or 6× over 6 h and 30 m;
// open a ticket at 1× over 3 d and 6 h. Burn rate = bad fraction / (1 − objective).
//   availability: a request is good unless it failed (5xx or error.type)
//   latency:      a request is good when it took ≤ thresholdMs
//   uptime:       a synthetic check is good when it succeeded (solemate.uptime.checks{result})
//   percentile:   a period (an hour) is good when the quantile of its values is ≤ thresholdMs, e.g.
//                 "p75 LCP < 2 s on /products/:id for 99% of hours" over real users' beacons
import { isErrorSeries, mergeRows } from '../query/metrics.js';
import { parseDuration } from '../query/filters.js';
import { toMillis } from '../semconv.js';
import type { CycleReads } from './expr.js';
import type { Slo } from '../config/schema.js';
import type { Row } from '../store/rows.js';
import type { SeriesRow } from '../store/store.js';

export type { Slo };

/** The PRD's success metrics as SLOs: error rate < 0.1%, average response < 200 ms, uptime 99.9%. */
export const DEFAULT_SLOS: Slo[] = [
  { name: 'availability', description: 'requests that do not fail (PRD: error rate < 0.1%)', objective: 0.999, window: '30d', sli: { type: 'availability', metric: 'http.server.request.duration', filters: {} } },
  { name: 'latency', description: 'requests answered within 200 ms (PRD: average response < 200 ms)', objective: 0.99, window: '30d', sli: { type: 'latency', metric: 'http.server.request.duration', thresholdMs: 200, filters: {} } },
  { name: 'uptime', description: 'synthetic checks that succeed (PRD: uptime 99.9%)', objective: 0.999, window: '30d', sli: { type: 'uptime' } },
];

export const UPTIME_METRIC = 'solemate.uptime.checks';

/** The SRE Workbook's recommended windows and factors for a 30-day budget. */
export const BURN_ALERTS = [
  { name: 'fast', severity: 'critical', long: '1h', short: '5m', factor: 14.4 },
  { name: 'slow', severity: 'critical', long: '6h', short: '30m', factor: 6 },
  { name: 'ticket', severity: 'warning', long: '3d', short: '6h', factor: 1 },
] as const;

export interface Counts {
  good: number;
  total: number;
}

/** Good and total events of the SLI over the window ending at reads.now. */
export async function sliCounts(reads: CycleReads, slo: Slo, windowMs: number): Promise<Counts> {
  const sli = slo.sli;
  if (sli.type === 'uptime') {
    const series = (await reads.seriesOf(UPTIME_METRIC)).filter((s) => !sli.check || s.attributes.check === sli.check);
    const rows = await reads.rowsOf(UPTIME_METRIC, windowMs);
    let good = 0;
    let total = 0;
    for (const s of series) {
      for (const r of rows.get(s.id) ?? []) {
        total += r.sum;
        if (s.attributes.result === 'success') good += r.sum;
      }
    }
    return { good, total };
  }
  const series = await reads.matching(sli.metric, sli.filters);
  const rows = await reads.rowsOf(sli.metric, windowMs);
  if (sli.type === 'percentile') return periodCounts(series, rows, sli, parseDuration(sli.period));
  let good = 0;
  let total = 0;
  for (const s of series) {
    const rs = rows.get(s.id) ?? [];
    const n = rs.reduce((a, r) => a + r.count, 0);
    total += n;
    if (sli.type === 'availability') {
      if (!isErrorSeries(s)) good += n;
    } else if (n > 0) {
      const factor = toMillis(s.unit);
      good += mergeRows(rs).countAtOrBelow(sli.thresholdMs / factor);
    }
  }
  return { good, total };
}

export interface SloStatus {
  name: string;
  description?: string;
  objective: number;
  window: string;
  /** good / total over the window; undefined without events */
  sli: number | undefined;
  events: number;
  errorBudget: {
    /** bad events the objective allows over the window so far */
    allowed: number;
    spent: number;
    /** 1 = untouched, 0 = used up, negative = overspent */
    remaining: number | undefined;
  };
  /** burn rate per window: bad fraction / (1 − objective) */
  burnRates: Record<string, number | undefined>;
  derivedFrom: string;
}

export async function sloStatus(reads: CycleReads, slo: Slo): Promise<SloStatus> {
  const windowMs = parseDuration(slo.window);
  const all = await sliCounts(reads, slo, windowMs);
  const bad = all.total - all.good;
  const allowed = all.total * (1 - slo.objective);
  const burnRates: Record<string, number | undefined> = {};
  for (const w of ['5m', '30m', '1h', '6h', '3d']) {
    const c = await sliCounts(reads, slo, parseDuration(w));
    burnRates[w] = c.total > 0 ? (c.total - c.good) / c.total / (1 - slo.objective) : undefined;
  }
  return {
    name: slo.name,
    description: slo.description,
    objective: slo.objective,
    window: slo.window,
    sli: all.total > 0 ? all.good / all.total : undefined,
    events: all.total,
    errorBudget: { allowed, spent: bad, remaining: allowed > 0 ? 1 - bad / allowed : undefined },
    burnRates,
    derivedFrom: derivedFrom(slo, all.total),
  };
}

/** Periods (aligned to the epoch) with data, and those whose merged quantile is within the threshold. */
function periodCounts(series: SeriesRow[], rows: Map<number, Row[]>, sli: Extract<Slo['sli'], { type: 'percentile' }>, periodMs: number): Counts {
  const byPeriod = new Map<number, Row[]>();
  const factor = new Map<number, number>();
  for (const s of series) {
    for (const r of rows.get(s.id) ?? []) {
      const t = Math.floor(r.t / periodMs) * periodMs;
      let list = byPeriod.get(t);
      if (!list) byPeriod.set(t, (list = []));
      list.push(r);
      factor.set(t, toMillis(s.unit));
    }
  }
  let good = 0;
  let total = 0;
  for (const [t, rs] of byPeriod) {
    const h = mergeRows(rs);
    if (h.count === 0) continue;
    total++;
    if (h.quantile(sli.quantile) * factor.get(t)! <= sli.thresholdMs) good++;
  }
  return { good, total };
}

function derivedFrom(slo: Slo, total: number): string {
  const sli = slo.sli;
  if (sli.type === 'percentile') return `${total} periods of ${sli.period} with ${sli.metric} values in the last ${slo.window}, from stored rollups; a period is good when its p${Math.round(sli.quantile * 100)} ≤ ${sli.thresholdMs} ms (histogram buckets, ≤ 0.54% error)`;
  return `${total} ${sli.type === 'uptime' ? 'checks' : 'requests'} in the last ${slo.window} from stored per-minute rollups${sli.type === 'latency' ? `; a request is good when ≤ ${sli.thresholdMs} ms (histogram buckets, ≤ 0.54% error)` : ''}`;
}

/** Burn rates of one alert's two windows, and whether both exceed its factor. */
export async function burnAlert(reads: CycleReads, slo: Slo, a: (typeof BURN_ALERTS)[number]): Promise<{ holds: boolean; value: number } | undefined> {
  const [l, s] = await Promise.all([sliCounts(reads, slo, parseDuration(a.long)), sliCounts(reads, slo, parseDuration(a.short))]);
  if (l.total === 0 || s.total === 0) return undefined;
  const burn = (c: Counts) => (c.total - c.good) / c.total / (1 - slo.objective);
  const long = burn(l);
  return { holds: long > a.factor && burn(s) > a.factor, value: long };
}
