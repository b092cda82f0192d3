// A panel query (metric, aggregation, window, filters, by — the alert condition's shape) over a
// time range: one value per step, each over the window ending at that step, computed with the
// alert evaluator's own code. The rows of the whole range are read once; each step sees its slice.
import { CycleReads, evaluateExpr } from '../alerts/expr.js';
import type { AlertExpr } from '../alerts/rules.js';
import type { QueryEngine } from '../query/engine.js';
import { HOUR, MINUTE, type Row } from '../store/rows.js';
import type { SeriesRow } from '../store/store.js';

export type PanelQuery = Omit<AlertExpr, 'op' | 'threshold'>;

export interface RangeSeries {
  labels: Record<string, string>;
  /** [Unix ms, value]; a step without data has no point */
  points: [number, number][];
}

/** Most points a range answer holds; the step grows with the range. */
export const MAX_POINTS = 240;

/** A step of whole minutes (whole hours past 6 h, where only hourly rows may remain). */
export function stepFor(from: number, to: number, requested?: number): number {
  const unit = to - from > 6 * HOUR ? HOUR : MINUTE;
  const least = Math.ceil((to - from) / MAX_POINTS / unit) * unit;
  return Math.max(unit, least, requested ? Math.ceil(requested / unit) * unit : 0);
}

/** CycleReads over rows read once for the whole range, sliced to the window ending at `now`. */
class SliceReads extends CycleReads {
  constructor(
    engine: QueryEngine,
    now: number,
    private readonly all: Promise<Map<number, Row[]>>,
    private readonly metricSeries: Promise<SeriesRow[]>,
  ) {
    super(engine, now);
  }

  override seriesOf(): Promise<SeriesRow[]> {
    return this.metricSeries;
  }

  override rowsOf(_metric: string, windowMs: number): Promise<Map<number, Row[]>> {
    const from = this.now - windowMs;
    return this.all.then((all) => {
      const out = new Map<number, Row[]>();
      // each series' rows are in time order: the window is a slice found by two binary searches
      for (const [id, rows] of all) {
        const inside = rows.slice(firstAtOrAfter(rows, from), firstAtOrAfter(rows, this.now));
        if (inside.length) out.set(id, inside);
      }
      return out;
    });
  }
}

/** Index of the first row with t ≥ time (rows sorted by t). */
function firstAtOrAfter(rows: Row[], time: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid].t < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export async function evaluateRange(engine: QueryEngine, q: PanelQuery, windowMs: number, from: number, to: number, stepMs?: number): Promise<{ step: number; series: RangeSeries[] }> {
  const step = stepFor(from, to, stepMs);
  const seriesP = engine.series(q.metric);
  const series = await seriesP;
  const all = engine.readRange(series.map((s) => s.id), from - windowMs, to).then((rows) => {
    const by = new Map<number, Row[]>();
    for (const r of rows) {
      const list = by.get(r.seriesId);
      if (list) list.push(r);
      else by.set(r.seriesId, [r]);
    }
    // hourly and minute rows come in separate reads: put each series in time order once
    for (const list of by.values()) list.sort((a, b) => a.t - b.t);
    return by;
  });
  const expr: AlertExpr = { ...q, op: '>', threshold: 0 };
  const out = new Map<string, RangeSeries>();
  // steps end on step boundaries, and the last one at `to` so the newest minute shows
  const ends: number[] = [];
  for (let t = Math.ceil(from / step) * step; t < to; t += step) ends.push(t);
  ends.push(to);
  for (const t of ends) {
    for (const s of await evaluateExpr(new SliceReads(engine, t, all, seriesP), expr, windowMs)) {
      const key = JSON.stringify(s.labels);
      let r = out.get(key);
      if (!r) out.set(key, (r = { labels: s.labels, points: [] }));
      r.points.push([t, s.value]);
    }
  }
  return { step, series: [...out.values()] };
}

/** The query's value for each group over the window ending at `at`. */
export async function evaluateInstant(engine: QueryEngine, q: PanelQuery, windowMs: number, at: number) {
  return evaluateExpr(new CycleReads(engine, at), { ...q, op: '>', threshold: 0 }, windowMs);
}
