// Thresholds in k6's syntax (https://grafana.com/docs/k6/latest/using-k6/thresholds/):
//   http_req_duration: ['p(95)<200', 'avg<100', 'max<1000', 'med<50']   (milliseconds)
//   http_req_failed:   ['rate<0.01']                                      (share of failed requests)
//   http_reqs:         ['rate>100', 'count>1000']                          (requests per second, total)
// A breach makes the run fail (exit 3).
import { compare, type Operator } from '../query/compare.js';

export type ThresholdMetric = 'http_req_duration' | 'http_req_failed' | 'http_reqs';
export const THRESHOLD_METRICS: ThresholdMetric[] = ['http_req_duration', 'http_req_failed', 'http_reqs'];

export interface Threshold {
  metric: ThresholdMetric;
  expression: string;
  aggregate: string;
  /** percentile for p(N), 0–100 */
  percentile?: number;
  op: Operator;
  value: number;
}

const EXPR = /^\s*(avg|min|max|med|count|rate|p\(\s*(\d+(?:\.\d+)?)\s*\))\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;
const ALLOWED: Record<ThresholdMetric, string[]> = {
  http_req_duration: ['avg', 'min', 'max', 'med', 'p'],
  http_req_failed: ['rate'],
  http_reqs: ['rate', 'count'],
};

/** Parses one expression; the error message says what is wrong with it. */
export function parseThreshold(metric: string, expression: string): Threshold {
  if (!THRESHOLD_METRICS.includes(metric as ThresholdMetric)) throw new Error(`unknown metric "${metric}" (use ${THRESHOLD_METRICS.join(', ')})`);
  const m = EXPR.exec(expression);
  if (!m) throw new Error(`cannot read threshold "${expression}" (examples: "p(95)<200", "avg<100", "rate<0.01")`);
  const aggregate = m[1].startsWith('p(') ? 'p' : m[1];
  if (!ALLOWED[metric as ThresholdMetric].includes(aggregate)) throw new Error(`"${m[1]}" does not apply to ${metric} (use ${ALLOWED[metric as ThresholdMetric].map((a) => (a === 'p' ? 'p(N)' : a)).join(', ')})`);
  const percentile = m[2] === undefined ? undefined : Number(m[2]);
  if (percentile !== undefined && (percentile <= 0 || percentile > 100)) throw new Error(`percentile ${percentile} must be in (0, 100]`);
  return { metric: metric as ThresholdMetric, expression: expression.trim(), aggregate, percentile, op: m[3] as Threshold['op'], value: Number(m[4]) };
}

/** What the thresholds are checked against. */
export interface ThresholdInputs {
  /** ms */
  duration: { avg: number; min: number; max: number; quantile: (q: number) => number };
  requests: number;
  failed: number;
  seconds: number;
}

export interface ThresholdResult {
  metric: ThresholdMetric;
  expression: string;
  actual: number;
  ok: boolean;
}

export function evaluateThresholds(thresholds: Threshold[], x: ThresholdInputs): ThresholdResult[] {
  return thresholds.map((t) => {
    let actual: number;
    if (t.metric === 'http_req_duration') {
      actual = t.aggregate === 'p' ? x.duration.quantile(t.percentile! / 100) : t.aggregate === 'med' ? x.duration.quantile(0.5) : x.duration[t.aggregate as 'avg' | 'min' | 'max'];
    } else if (t.metric === 'http_req_failed') actual = x.requests === 0 ? 0 : x.failed / x.requests;
    else actual = t.aggregate === 'count' ? x.requests : x.requests / x.seconds;
    return { metric: t.metric, expression: t.expression, actual, ok: compare(actual, t.op, t.value) };
  });
}
