// Rollup rows and how two of them merge. Both backends keep exactly these columns, so the merge
// rule lives here once: counts and sums add, min/max widen, last follows the latest, histograms merge.
import { mergeHistogramData as mergeHist, type HistogramData } from '../model/histogram.js';
import { MINUTE, minuteOf, type MetricPoint } from '../model/metrics.js';

export { MINUTE, minuteOf } from '../model/metrics.js';
export const HOUR = 3_600_000;

export interface Row {
  seriesId: number;
  /** start of the minute or hour, Unix ms */
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  lastTime: number;
  hist?: HistogramData;
}


export function toRow(p: MetricPoint, seriesId: number): Row {
  return { seriesId, t: minuteOf(p.time), count: p.count, sum: p.sum, min: p.min, max: p.max, last: p.last, lastTime: p.time, hist: p.hist };
}

export function mergeRow(into: Row, r: Row): Row {
  into.count += r.count;
  into.sum += r.sum;
  into.min = Math.min(into.min, r.min);
  into.max = Math.max(into.max, r.max);
  if (r.lastTime >= into.lastTime) {
    into.last = r.last;
    into.lastTime = r.lastTime;
  }
  if (r.hist) into.hist = into.hist ? mergeHist(into.hist, r.hist) : r.hist;
  return into;
}


/** Rows of one batch that share (series, t) merged into one, so a backend upserts each key once. */
export function coalesce(rows: Row[], bucket: number = MINUTE): Row[] {
  const byKey = new Map<string, Row>();
  for (const r of rows) {
    const t = Math.floor(r.t / bucket) * bucket;
    const key = `${r.seriesId}:${t}`;
    const found = byKey.get(key);
    if (found) mergeRow(found, r);
    else byKey.set(key, { ...r, t });
  }
  return [...byKey.values()];
}
