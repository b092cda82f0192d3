// Analyzers in the shape of Lighthouse audits: each declares the inputs it needs, has options whose
// defaults say where they come from, and returns findings with severity, an evidence table and an
// impact estimate that says what it was derived from. The runner (runner.ts) collects only the
// declared inputs, turns an exception into an error result, and passes "not applicable" through.
import type { TraceDetail } from '../query/traces.js';
import type { PostgresReport } from '../collectors/postgres.js';
import type { SiteSnapshot } from './site.js';
import type { LighthouseRun } from '../lab/lighthouse.js';
import type { PerformanceTrend } from '../query/trends.js';

export interface RouteStats {
  route: string;
  method: string;
  requests: number;
  requestsPerSecond: number;
  avgMs: number;
  p95Ms: number;
  /** this route's share of all server time in the window (0–1) */
  timeShare: number;
  errorRatio: number;
}

export interface Inputs {
  /** per route over the analysis window */
  routes: RouteStats[];
  /** the slowest kept traces of the window, as trees */
  traces: TraceDetail[];
  /** the database's own statistics (only with a database to read) */
  postgres: PostgresReport;
  /** the page as a browser loads it first (front-end analyzers) */
  site: SiteSnapshot;
  /** the services' runtime (event loop, CPU, heap), their connection pools, and the last capacity fit */
  runtime: RuntimeStats;
  /** the newest Lighthouse runs stored for the site (its representative run), and real users' LCP on that page */
  lighthouse: { run: LighthouseRun; runs: number; page: string; rumP75LcpMs?: number; rumPageViews?: number };
  /** a connection to that database, for EXPLAIN and trial indexes inside rolled-back transactions */
  database: { query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> };
}
export type InputName = keyof Inputs;

export interface RuntimeStats {
  services: {
    service: string;
    instances: number;
    requestsPerSecond: number;
    /** the worst p99 event-loop delay any instance reported in the window, ms */
    eventLoopP99Ms: number | undefined;
    /** process CPU time / wall time (1 = one core), average and highest over the window */
    cpuAvg: number | undefined;
    cpuMax: number | undefined;
    heapLimitBytes: number | undefined;
    /** heap used over the window (Theil–Sen slope, Mann–Kendall test) */
    heap: PerformanceTrend | undefined;
  }[];
  pools: { service: string; pool: string; waitP95Ms: number; pendingMax: number; usedMax: number }[];
  /** application caches (the SDK's Cache helper): lookups by key prefix in the window */
  caches: { service: string; prefix: string; hits: number; misses: number }[];
  /** the newest stress run with a Universal Scalability Law fit */
  capacity: { runId: string; scenario: string; peakThroughput: number; peakConcurrency: number; derivedFrom: string } | undefined;
}

export interface Evidence {
  headings: { key: string; label: string }[];
  rows: Record<string, string | number>[];
}

export interface Finding {
  severity: 'critical' | 'warning' | 'info';
  title: string;
  /** what the finding is about: a route, a statement, a table */
  target: Record<string, string>;
  evidence: Evidence;
  impact: { metric: string; estimate: number; unit: string; derivedFrom: string };
}

export interface AnalyzerMeta {
  id: string;
  title: string;
  description: string;
  requires: InputName[];
}

export interface Option<T> {
  value: T;
  /** where the default comes from */
  source: string;
}

export interface Analyzer<O extends Record<string, unknown> = Record<string, unknown>> {
  meta: AnalyzerMeta;
  defaults: { [K in keyof O]: Option<O[K]> };
  analyze(inputs: Partial<Inputs>, options: O): Promise<Finding[] | { notApplicable: string }>;
}

export interface AnalyzerResult {
  id: string;
  title: string;
  status: 'findings' | 'pass' | 'not_applicable' | 'error';
  findings: Finding[];
  /** why not applicable, or the error */
  reason?: string;
  options: Record<string, unknown>;
  durationMs: number;
}
