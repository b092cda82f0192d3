// Active-series limits at ingest, the rule of the OpenTelemetry metrics SDK's cardinality limit
// (and our own SDK's): past `seriesPerMetric` active series, a metric's new series are folded into
// one overflow series marked otel.metric.overflow=true, so its totals stay right; past `series` in
// all, new series are rejected, as Grafana Mimir rejects a tenant's series past its limit. A series
// is active while it received a point within the window. Memory is bounded by the limits: only
// admitted series are remembered.
import { seriesKey, type MetricPoint } from '../model/metrics.js';

export const OVERFLOW = 'otel.metric.overflow';
/** reading every series key of a metric costs ~1 ms per thousand: once in a while is enough */
const CULPRIT_MS = 10_000;

export interface SeriesLimits {
  seriesPerMetric: number;
  series: number;
  windowMs: number;
}

/** What one metric lost to the limits: the answer's message, the counter, the dashboard's warning. */
export interface Overflow {
  metric: string;
  /** the service of the first point that overflowed */
  service: string;
  reason: 'series_per_metric' | 'series_total';
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
  /** metric → series key → last point (ms) */
  private readonly active = new Map<string, Map<string, number>>();
  private total = 0;
  private pruned = 0;
  /** the culprit of each overflowing metric, worked out at most every CULPRIT_MS */
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
    for (let p of points) {
      let series = this.active.get(p.metric);
      const key = seriesKey(p.metric, p.service, p.instance, p.attributes);
      if (series?.has(key)) {
        series.set(key, now);
        out.push(p);
        continue;
      }
      let reason: Overflow['reason'] | undefined;
      if (this.total >= this.limits.series) reason = 'series_total';
      else if ((series?.size ?? 0) >= this.limits.seriesPerMetric && p.attributes[OVERFLOW] === undefined) {
        reason = 'series_per_metric';
        p = { ...p, attributes: { [OVERFLOW]: 'true' } };
      }
      if (reason) {
        const o = lost.get(p.metric) ?? { metric: p.metric, service: p.service, reason, points: 0, attribute: undefined, distinct: 0 };
        o.points++;
        lost.set(p.metric, o);
      }
      if (reason === 'series_total') {
        rejected++;
        continue;
      }
      const foldedKey = reason ? seriesKey(p.metric, p.service, p.instance, p.attributes) : key;
      if (!series) this.active.set(p.metric, (series = new Map()));
      if (!series.has(foldedKey)) {
        if (this.total >= this.limits.series) {
          rejected++;
          continue;
        }
        this.total++;
      }
      series.set(foldedKey, now);
      out.push(p);
    }
    for (const o of lost.values()) {
      let c = this.culprits.get(o.metric);
      if (!c || now - c.at > CULPRIT_MS) this.culprits.set(o.metric, (c = { at: now, ...culprit(this.active.get(o.metric)) }));
      o.attribute = c.attribute;
      o.distinct = c.distinct;
    }
    return { points: out, rejected, overflows: [...lost.values()] };
  }

  private prune(now: number): void {
    const cut = now - this.limits.windowMs;
    for (const [metric, series] of this.active) {
      for (const [key, seen] of series) {
        if (seen < cut) {
          series.delete(key);
          this.total--;
        }
      }
      if (series.size === 0) this.active.delete(metric);
    }
    for (const [metric, c] of this.culprits) if (c.at < cut) this.culprits.delete(metric);
    this.pruned = now;
  }
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
