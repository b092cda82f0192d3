// The API's answers are the server's own types (type-only imports: erased from the bundle), so a
// change on either side fails the typecheck instead of showing wrong numbers. Only what the API adds
// to a server type in its answer is written here.
import type { AlertInstance as ServerAlert } from '../../src/alerts/state.js';
import type { LoadTestRun as StoredRun } from '../../src/store/store.js';
import type { LoadTestResult } from '../../src/loadtest/profiles.js';
import type { OverflowState } from '../../src/server/ingest.js';
import type { PerformanceConfig } from '../../src/config/schema.js';

export type { PerformanceMetrics as Metrics } from '../../src/query/metrics.js';
export type { PerformanceStatus as Status } from '../../src/query/status.js';
export type { PerformanceTrend as Trend } from '../../src/query/trends.js';
export type { SloStatus as Slo } from '../../src/alerts/slo.js';
export type { Silence } from '../../src/alerts/dispatcher.js';
export type { RangeSeries } from '../../src/dashboards/evaluate.js';
export type { Dashboard } from '../../src/dashboards/dashboards.js';
export type { Comparison } from '../../src/loadtest/statistics.js';
export type { OptimizationRecord } from '../../src/optimize/tracking.js';
export type { ListedRecommendation as Recommendation } from '../../src/server/optimizations.js';
export type { RouteRow, HeatmapAnswer } from '../../src/server/views.js';
export type { TraceSummary } from '../../src/store/store.js';
export type { TraceDetail, SpanNode as Span } from '../../src/query/traces.js';
export type { Session } from '../../src/server/auth.js';
export type { RumReport, RumPage, VitalFigures } from '../../src/query/rum.js';
export type { WebVitalName as Vital } from '../../src/model/rum.js';
export type { ListedRun as LabRun, RevisionComparison } from '../../src/server/lighthouse.js';

/** GET /api/limits */
export interface Limits {
  limits: PerformanceConfig['limits'];
  activeSeries: number;
  queued: number;
  overflows: OverflowState[];
}

/** GET /api/alerts adds the fingerprint and the acknowledgement to each active alert */
export type AlertInstance = ServerAlert & { fingerprint?: string; acknowledged?: { by: string; comment: string; at: number } | null };

/** a stored run's result is the LoadTestResult without its samples */
export type LoadTestRunAnswer = Omit<StoredRun, 'result'> & { result: Omit<LoadTestResult, 'samples'> };
