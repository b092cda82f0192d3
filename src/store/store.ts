// The one storage interface. Every backend passes the same contract suite (test/store/contract.ts).
import type { Attributes, MetricKind, MetricPoint } from '../model/metrics.js';
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

/** One span as stored (times in ms since the epoch). */
export interface SpanRow {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  service: string;
  instance: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified';
  start: number;
  duration: number;
  status: 'unset' | 'ok' | 'error';
  statusMessage?: string;
  attributes: Record<string, string | number | boolean>;
}

export interface TraceFilter {
  from?: number;
  to?: number;
  service?: string;
  route?: string;
  errorsOnly?: boolean;
  minDurationMs?: number;
  /** default 100, at most 1000 */
  limit?: number;
}

/** A trace as listed: its entry span (the server span, or the span without a parent). */
export interface TraceSummary {
  traceId: string;
  service: string;
  name: string;
  route: string | undefined;
  start: number;
  duration: number;
  error: boolean;
  spans: number;
}

/** A stored load-test run: what was run, where, on what revision, and what came out. */
export interface LoadTestRun {
  id: string;
  scenario: string;
  profile: string;
  target: string;
  startedAt: number;
  finishedAt: number;
  passed: boolean;
  gitRevision: string | undefined;
  environment: Record<string, unknown>;
  /** the LoadTestResult without its samples */
  result: Record<string, unknown>;
  /** corrected latencies (ms), a reservoir sample */
  samples: number[];
}

/** An alert instance as stored: its key and its state (see alerts/state.ts). */
export interface StoredAlert {
  key: string;
  state: Record<string, unknown>;
}

/** A firing or resolved notification-worthy change, kept as history. */
export interface AlertEventRow {
  at: number;
  kind: 'firing' | 'resolved';
  key: string;
  body: Record<string, unknown>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending migrations; safe to call on every start and from several replicas. */
  migrate(): Promise<void>;
  /** Resolves only once the points are durable. Points of the same series and minute merge. */
  write(points: MetricPoint[]): Promise<void>;
  /** Series of the given metrics (all when omitted). */
  listSeries(metrics?: string[]): Promise<SeriesRow[]>;
  /** Each metric with its kind, unit and number of series, by name: counted in the store, not by listing every series. */
  listMetrics(): Promise<{ name: string; kind: MetricKind; unit: string; series: number }[]>;
  /** Rows with t in [from, to) for these series at the given resolution, ordered by t. */
  readRows(seriesIds: number[], from: number, to: number, resolution: Resolution): Promise<Row[]>;
  /** Hours before this time have complete hourly rows (late writes merge into them too). */
  hourWatermark(): Promise<number>;
  /** Rolls complete hours (ended ≥ `settleMs` ago) from minutes into hours; returns hours rolled. */
  rollup(now: number, settleMs?: number): Promise<number>;
  /** Resolves once durable; a span already stored (same trace and span id) is kept as it was. */
  writeSpans(spans: SpanRow[]): Promise<void>;
  /** Entry spans matching the filter, slowest first. */
  listTraces(filter: TraceFilter): Promise<TraceSummary[]>;
  /** Every span of one trace, ordered by start; empty when unknown. */
  getTrace(traceId: string): Promise<SpanRow[]>;
  /** Resolves once durable. */
  saveRun(run: LoadTestRun): Promise<void>;
  getRun(id: string): Promise<LoadTestRun | undefined>;
  /** Newest first, without samples (empty arrays). */
  listRuns(filter: { scenario?: string; profile?: string; before?: number; limit?: number }): Promise<LoadTestRun[]>;
  /** Small JSON documents by kind (silences, API-managed alert rules); ordered by id. */
  listDocs(kind: string): Promise<{ id: string; body: Record<string, unknown> }[]>;
  /** Insert or replace; resolves once durable. */
  putDoc(kind: string, id: string, body: Record<string, unknown>): Promise<void>;
  /** true when it existed */
  deleteDoc(kind: string, id: string): Promise<boolean>;
  loadAlerts(): Promise<StoredAlert[]>;
  /** One transaction: upserts, deletes and the history events of one evaluation. */
  saveAlerts(upserts: StoredAlert[], deletes: string[], events: AlertEventRow[]): Promise<void>;
  /** Newest first. */
  alertEvents(filter: { since?: number; limit?: number }): Promise<AlertEventRow[]>;
  /**
   * Runs fn only if no other process holds `name` (PostgreSQL: a transaction-scoped advisory lock,
   * so one replica evaluates alerts); resolves to undefined when another one does.
   */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** Drops minute rows and spans older than policy.minuteMs, hour rows older than policy.hourMs. */
  applyRetention(now: number, policy: RetentionPolicy): Promise<{ minutes: number; hours: number; spans: number }>;
  close(): Promise<void>;
}
