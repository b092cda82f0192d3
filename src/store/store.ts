// The one storage interface. Every backend passes the same contract suite (test/store/contract.ts).
import type { Attributes, MetricKind, MetricPoint } from '../model.js';
import type { Row } from './rows.js';

export type Resolution = 'minute' | 'hour';

export interface SeriesRow {
  id: number;
  metric: string;
  kind: MetricKind;
  unit: string;
  service: string;
  instance: string;
  attributes: Attributes;
}

export interface RetentionPolicy {
  /** keep per-minute rows this long */
  minuteMs: number;
  /** keep hourly rows this long (monitoring.retention) */
  hourMs: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations; safe to call on every start and from several replicas. */
  migrate(): Promise<void>;
  /** Resolves only once the points are durable. Points of the same series and minute merge. */
  write(points: MetricPoint[]): Promise<void>;
  /** Series of the given metrics (all when omitted). */
  listSeries(metrics?: string[]): Promise<SeriesRow[]>;
  /** Rows with t in [from, to) for these series at the given resolution, ordered by t. */
  readRows(seriesIds: number[], from: number, to: number, resolution: Resolution): Promise<Row[]>;
  /** Hours before this time have complete hourly rows (late writes merge into them too). */
  hourWatermark(): Promise<number>;
  /** Rolls complete hours (ended ≥ `settleMs` ago) from minutes into hours; returns hours rolled. */
  rollup(now: number, settleMs?: number): Promise<number>;
  applyRetention(now: number, policy: RetentionPolicy): Promise<{ minutes: number; hours: number }>;
  close(): Promise<void>;
}
