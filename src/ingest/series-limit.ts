// Active-series limits at ingest, the rule of the OpenTelemetry metrics SDK's cardinality limit
// (and our own SDK's): past `seriesPerMetric` active series, a service's metric folds its new series
// into one overflow series marked otel.metric.overflow=true, so its totals stay right; past
// `seriesPerService` for one service, or `series` in all, new series are rejected, as Grafana Mimir
// rejects a tenant's series past its limit. The budgets are a service's own: one service flooding a
// metric costs that service's series, not another's of the same name. A series is active while it
// received a point within the window. Memory is bounded by the limits: only admitted series are
// remembered.
import { seriesKey, type MetricPoint } from '../model/metrics.js';

export const OVERFLOW = 'otel.metric.overflow';
/** reading every series key of a metric costs ~1 ms per thousand: once in a while is enough */
const CULPRIT_MS = 10_000;

export interface SeriesLimits {
  /** of one metric of one service */
  seriesPerMetric: number;
  /** of one service, all its metrics (default: series) */
  seriesPerService?: number;
  series: number;
  windowMs: number;
}

/** What one metric lost to the limits: the answer's message, the counter, the dashboard's warning. */
export interface Overflow {
  metric: string;
  /** the service whose series it was */
  service: string;
  reason: 'series_per_metric' | 'series_per_service' | 'series_total';
  /** points folded (per metric) or rejected (total) */
  points: number;
  /** the attribute with the most distinct values among the metric's active series: the likely culprit */
  attribute: string | undefined;
  distinct: number;
}

export interface Admitted {
  points: MetricPoint[];
  rejected: number;
  overflows: Overflow[];
}

export class SeriesLimiter {
  /** service and metric (budgetKey) → series key → last point (ms) */
  private readonly active = new Map<string, Map<string, number>>();
  /** service → its active series */
  private readonly perService = new Map<string, number>();
  private total = 0;
  private pruned = 0;
  /** the culprit of each overflowing metric (by budgetKey), worked out at most every CULPRIT_MS */
  private readonly culprits = new Map<string, { at: number; attribute: string | undefined; distinct: number }>();

  constructor(private readonly limits: SeriesLimits) {}

  get activeSeries(): number {
    return this.total;
  }

  /** The points as they may be stored: folded, or left out and counted. Changes nothing it is given. */
  admit(points: MetricPoint[], now: number): Admitted {
    if (now - this.pruned > this.limits.windowMs / 10) this.prune(now);
    const out: MetricPoint[] = [];
    const lost = new Map<string, Overflow>();
    let rejected = 0;
    const perService = this.limits.seriesPerService ?? this.limits.series;
    for (let p of points) {
      const budget = budgetKey(p.service, p.metric);
      let series = this.active.get(budget);
      const key = seriesKey(p.metric, p.service, p.instance, p.attributes);
      if (series?.has(key)) {
        series.set(key, now);
        out.push(p);
        continue;
      }
      const ofService = this.perService.get(p.service) ?? 0;
      let reason: Overflow['reason'] | undefined;
      if (this.total >= this.limits.series) reason = 'series_total';
      else if (ofService >= perService) reason = 'series_per_service';
      else if ((series?.size ?? 0) >= this.limits.seriesPerMetric && p.attributes[OVERFLOW] === undefined) {
        reason = 'series_per_metric';
        p = { ...p, attributes: { [OVERFLOW]: 'true' } };
      }
      if (reason) {
        const o = lost.get(budget) ?? { metric: p.metric, service: p.service, reason, points: 0, attribute: undefined, distinct: 0 };
        o.points++;
        lost.set(budget, o);
      }
      if (reason === 'series_total' || reason === 'series_per_service') {
        rejected++;
        continue;
      }
      const foldedKey = reason ? seriesKey(p.metric, p.service, p.instance, p.attributes) : key;
      if (!series) this.active.set(budget, (series = new Map()));
      if (!series.has(foldedKey)) {
        if (this.total >= this.limits.series || (this.perService.get(p.service) ?? 0) >= perService) {
          rejected++;
          continue;
        }
        this.total++;
        this.perService.set(p.service, (this.perService.get(p.service) ?? 0) + 1);
      }
      series.set(foldedKey, now);
      out.push(p);
    }
    for (const [budget, o] of lost) {
      let c = this.culprits.get(budget);
      if (!c || now - c.at > CULPRIT_MS) this.culprits.set(budget, (c = { at: now, ...culprit(this.active.get(budget)) }));
      o.attribute = c.attribute;
      o.distinct = c.distinct;
    }
    return { points: out, rejected, overflows: [...lost.values()] };
  }

  private prune(now: number): void {
    const cut = now - this.limits.windowMs;
    for (const [budget, series] of this.active) {
      const service = budget.slice(0, budget.lastIndexOf('\u001f'));
      let gone = 0;
      for (const [key, seen] of series) {
        if (seen < cut) {
          series.delete(key);
          gone++;
        }
      }
      if (gone > 0) {
        this.total -= gone;
        const left = (this.perService.get(service) ?? 0) - gone;
        if (left > 0) this.perService.set(service, left);
        else this.perService.delete(service);
      }
      if (series.size === 0) this.active.delete(budget);
    }
    for (const [budget, c] of this.culprits) if (c.at < cut) this.culprits.delete(budget);
    this.pruned = now;
  }
}

/** A service's budget for one metric. */
export function budgetKey(service: string, metric: string): string {
  return `${service}\u001f${metric}`;
}

/** The attribute key with the most distinct values among these series keys (see seriesKey's format). */
function culprit(series: Map<string, number> | undefined): { attribute: string | undefined; distinct: number } {
  const values = new Map<string, Set<string>>();
  for (const key of series?.keys() ?? []) {
    const parts = key.split('\u001f');
    for (let i = 3; i < parts.length; i++) {
      const eq = parts[i].indexOf('=');
      const k = parts[i].slice(0, eq);
      if (k === OVERFLOW) continue;
      let set = values.get(k);
      if (!set) values.set(k, (set = new Set()));
      set.add(parts[i].slice(eq + 1));
    }
  }
  let best: { attribute: string | undefined; distinct: number } = { attribute: undefined, distinct: 0 };
  for (const [k, set] of values) if (set.size > best.distinct) best = { attribute: k, distinct: set.size };
  return best;
}
