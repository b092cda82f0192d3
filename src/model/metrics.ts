// The data model every layer shares: what the recorder collects, the wire carries, the store keeps.
// It is OpenTelemetry's model (counter, gauge, histogram with attributes) reduced to what we query.
import type { HistogramData } from './histogram.js';

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
