// The API's answers, as far as the pages read them (docs/api.md has them whole).
export interface Metrics {
  from: string;
  to: string;
  responseTime: { average: number | null; p50: number | null; p95: number | null; p99: number | null; max: number | null };
  throughput: { requestsPerSecond: number; requests: number };
  errorRate: { percentage: number | null; count: number };
  resourceUsage: { cpu: number | null; memory: number | null; disk: number | null };
}

export interface Status {
  status: 'healthy' | 'warning' | 'critical' | 'unknown';
  checks: { name: string; value: number | null; unit: string; warningAt: number | null; criticalAt: number | null; status: string }[];
}

export interface AlertInstance {
  key: string;
  fingerprint?: string;
  alert: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: 'pending' | 'firing' | 'inactive' | 'resolved';
  value: number;
  activeAt: number;
  firedAt?: number;
  acknowledged?: { by: string; comment: string; at: number } | null;
}

export interface Slo {
  name: string;
  description?: string;
  objective: number;
  window: string;
  sli?: number;
  events: number;
  errorBudget: { allowed: number; spent: number; remaining?: number };
  burnRates: Record<string, number | undefined>;
  derivedFrom: string;
}

export interface RangeSeries {
  labels: Record<string, string>;
  points: [number, number][];
}

export interface Recommendation {
  id: string;
  type: string;
  priority: number;
  severity: string;
  title: string;
  description: string;
  evidence: Record<string, unknown>;
  impact: Record<string, unknown>;
  effort: string;
  estimatedImprovement: { metric: string; value: number; unit: string; derivedFrom: string };
  automatic: boolean;
  routes: { method: string; route: string }[];
  analyzer: string;
  /** a kept optimization already applied it (the analyzed window may predate it) */
  appliedBy?: string;
}

export interface Summary {
  requests: number;
  p50: number;
  p95: number;
  p99: number;
  [k: string]: unknown;
}

export interface Comparison {
  verdict: string;
  baselineMedian: number;
  currentMedian: number;
  test: { p: number };
}

export interface OptimizationRecord {
  id: string;
  recommendationId?: string;
  title: string;
  description: string;
  action: { type: string; [k: string]: unknown };
  objective: string;
  routes: string[];
  state: string;
  reason?: string;
  createdAt: number;
  updatedAt: number;
  before?: Summary;
  after?: Summary;
  latency?: Comparison;
  bytes?: Comparison;
  p95Factor?: number;
  perRoute?: { route: string; requests: number; beforeP95: number; afterP95: number; factor: number }[];
  repeatView?: { urls: number; beforeBytes: number; afterBytes: number };
  events: { at: number; state: string; message: string }[];
}

export interface TraceSummary {
  traceId: string;
  start: number;
  duration: number;
  spans: number;
  error: boolean;
  service?: string;
  route?: string;
  name?: string;
}

export interface Span {
  spanId: string;
  name: string;
  kind: string;
  service: string;
  start: number;
  duration: number;
  status: string;
  offset: number;
  attributes: Record<string, unknown>;
  children: Span[];
}

export interface TraceDetail {
  traceId: string;
  start: number;
  duration: number;
  spans: number;
  error: boolean;
  database: { queries: number; timeMs: number; repeated: { statement: string; count: number }[] };
  roots: Span[];
}
