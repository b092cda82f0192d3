// The data model every layer shares: what the recorder collects, the wire carries, the store keeps.
// It is OpenTelemetry's model (counter, gauge, histogram with attributes) reduced to what we query.
import { mergeHistogramData, type HistogramData } from './histogram.js';

export type MetricKind = 'counter' | 'gauge' | 'histogram';
export type Attributes = Record<string, string>;

/** One series' aggregate over one interval (delta temporality). Times are Unix milliseconds. */
export interface MetricPoint {
  metric: string;
  kind: MetricKind;
  unit: string;
  description?: string;
  service: string;
  instance: string;
  attributes: Attributes;
  startTime: number;
  time: number;
  /** counter: number of increments; gauge: observations; histogram: values recorded */
  count: number;
  /** counter: total increase; gauge, histogram: sum of values */
  sum: number;
  min: number;
  max: number;
  /** gauge: last value in the interval */
  last: number;
  hist?: HistogramData;
}

/** Stable identity of a series: metric + service + instance + sorted attributes. */
export function seriesKey(metric: string, service: string, instance: string, attributes: Attributes): string {
  const keys = Object.keys(attributes).sort();
  let key = `${metric}\u001f${service}\u001f${instance}`;
  for (const k of keys) key += `\u001f${k}=${attributes[k]}`;
  return key;
}

export const MINUTE = 60_000;

/** A delta ending exactly on a minute boundary belongs to the minute before it (the store's finest row). */
export function minuteOf(time: number): number {
  return Math.floor((time - 1) / MINUTE) * MINUTE;
}

/**
 * Two deltas of one series as one delta over both intervals, as a new point: counts and sums add,
 * min/max widen, `last` follows the later point, histograms merge. What a store keeps per minute is
 * the same whether it gets the two points or their merge.
 */
export function mergePoints(a: MetricPoint, b: MetricPoint): MetricPoint {
  const later = b.time >= a.time ? b : a;
  const merged: MetricPoint = {
    ...later,
    startTime: Math.min(a.startTime, b.startTime),
    time: later.time,
    count: a.count + b.count,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    last: later.last,
  };
  if (a.hist && b.hist) merged.hist = mergeHistogramData(a.hist, b.hist);
  else if (a.hist || b.hist) merged.hist = a.hist ?? b.hist;
  return merged;
}
