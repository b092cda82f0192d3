// Alerts as code beyond our server: the same rules as a Prometheus rule file, over the series our
// /metrics endpoint exposes (snake_case names, base units, service_name / service_instance_id
// labels). A rule that PromQL over classic histograms cannot express (min/max/last of a histogram,
// a quantile of a gauge) is left out and listed with the reason.
import { stringify } from 'yaml';
import { promName, snake } from '../model/prometheus.js';
import type { MetricKind } from '../model/metrics.js';
import { formatValue, type AlertRule } from './rules.js';

/** Kind and unit of the metrics the shipped rules use; others are looked up in the store. */
export const KNOWN_METRICS: Record<string, { kind: MetricKind; unit: string }> = {
  'http.server.request.duration': { kind: 'histogram', unit: 's' },
  'db.client.operation.duration': { kind: 'histogram', unit: 's' },
  'nodejs.eventloop.delay': { kind: 'gauge', unit: 's' }, // p50, p99, max per interval (label quantile)
  'v8js.gc.duration': { kind: 'histogram', unit: 's' },
  'process.cpu.utilization': { kind: 'gauge', unit: '1' },
  'solemate.process.memory.utilization': { kind: 'gauge', unit: '1' },
  'solemate.sdk.dropped': { kind: 'counter', unit: '{record}' },
  'solemate.cache.requests': { kind: 'counter', unit: '{request}' },
  'solemate.http.server.db.queries': { kind: 'histogram', unit: '{query}' },
  'solemate.http.server.db.time_share': { kind: 'histogram', unit: '1' },
  'redis.keyspace.hit_ratio': { kind: 'gauge', unit: '1' },
  'solemate.uptime.checks': { kind: 'counter', unit: '{check}' },
  'solemate.ingest.series.overflow': { kind: 'counter', unit: '{point}' },
  'solemate.sdk.series.overflow': { kind: 'counter', unit: '{record}' },
};

/** {{ $threshold }} is ours: the other formats get the number itself. */
const withThreshold = (text: string, r: AlertRule) => text.replace(/\{\{\s*\$threshold\s*\}\}/g, formatValue(r.expr.threshold));

const LABEL: Record<string, string> = { route: 'http_route', method: 'http_request_method', status: 'http_response_status_code', service: 'service_name', instance: 'service_instance_id' };
export const label = (k: string) => LABEL[k] ?? snake(k);
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const promDuration = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`);

function selector(r: AlertRule, extra = ''): string {
  const f = r.expr.filters;
  const m: string[] = [];
  if (f.service) m.push(`service_name="${esc(f.service)}"`);
  if (f.instance) m.push(`service_instance_id="${esc(f.instance)}"`);
  if (f.route) m.push(`http_route="${esc(f.route)}"`);
  if (f.method) m.push(`http_request_method="${esc(f.method)}"`);
  if (f.status) m.push(/^[1-5]xx$/i.test(f.status) ? `http_response_status_code=~"${f.status[0]}.."` : `http_response_status_code="${esc(f.status)}"`);
  for (const [k, v] of Object.entries(f.tags ?? {})) m.push(`${snake(k)}="${esc(v)}"`);
  if (extra) m.push(extra);
  return m.length ? `{${m.join(',')}}` : '';
}

/** PromQL for the rule's value in the rule's own units (ms for durations), or why there is none. */
export function promql(r: AlertRule, meta: { kind: MetricKind; unit: string }): { expr: string } | { skip: string } {
  const { name, scale } = promName(r.expr.metric, meta.unit, meta.kind);
  const w = promDuration(r.windowMs);
  const by = r.expr.by.map(label);
  const sumBy = (extra: string[] = []) => `sum${[...by, ...extra].length ? ` by (${[...by, ...extra].join(', ')})` : ''}`;
  // our rules compare durations in ms; the exposition is in seconds
  const toRuleUnits = meta.unit === 's' || meta.unit === 'ms' || meta.unit === 'us' ? ' * 1000' : '';
  const a = r.expr.aggregation;
  const sel = selector(r);
  if (meta.kind === 'histogram') {
    if (a[0] === 'p') return { expr: `histogram_quantile(${Number(a.slice(1)) / 100}, ${sumBy(['le'])} (rate(${name}_bucket${sel}[${w}])))${toRuleUnits}` };
    if (a === 'avg') return { expr: `(${sumBy()} (rate(${name}_sum${sel}[${w}])) / ${sumBy()} (rate(${name}_count${sel}[${w}])))${toRuleUnits}` };
    if (a === 'rate') return { expr: `${sumBy()} (rate(${name}_count${sel}[${w}]))` };
    if (a === 'count') return { expr: `${sumBy()} (increase(${name}_count${sel}[${w}]))` };
    if (a === 'error_ratio') return { expr: `${sumBy()} (rate(${name}_count${selector(r, 'http_response_status_code=~"5.."')}[${w}])) / ${sumBy()} (rate(${name}_count${sel}[${w}]))` };
    return { skip: `${a} of a histogram has no PromQL equivalent over classic buckets` };
  }
  if (meta.kind === 'counter') {
    if (a === 'rate') return { expr: `${sumBy()} (rate(${name}${sel}[${w}]))` };
    if (a === 'count') return { expr: `${sumBy()} (increase(${name}${sel}[${w}]))` };
    return { skip: `${a} of a counter: use rate or count` };
  }
  const over = { avg: 'avg_over_time', max: 'max_over_time', min: 'min_over_time', last: 'last_over_time' }[a as 'avg' | 'max' | 'min' | 'last'];
  if (!over) return { skip: `${a} of a gauge has no meaning` };
  const agg = a === 'min' ? 'min' : a === 'avg' ? 'avg' : 'max';
  return { expr: `${agg}${by.length ? ` by (${by.join(', ')})` : ''} (${over}(${name}${sel}[${w}]))${scale !== 1 ? ` * ${1 / scale}` : ''}${toRuleUnits}` };
}

export interface PrometheusExport {
  /** the rule file, YAML */
  yaml: string;
  skipped: { rule: string; reason: string }[];
}

export function toPrometheusRules(rules: AlertRule[], lookup: (metric: string) => { kind: MetricKind; unit: string } | undefined = (m) => KNOWN_METRICS[m]): PrometheusExport {
  const groups = new Map<string, object[]>();
  const skipped: PrometheusExport['skipped'] = [];
  for (const r of rules) {
    const meta = lookup(r.expr.metric);
    if (!meta) {
      skipped.push({ rule: r.id, reason: `kind and unit of ${r.expr.metric} are unknown (no stored series)` });
      continue;
    }
    const q = promql(r, meta);
    if ('skip' in q) {
      skipped.push({ rule: r.id, reason: q.skip });
      continue;
    }
    const rule: Record<string, unknown> = { alert: r.alert, expr: `${q.expr} ${r.expr.op} ${r.expr.threshold}` };
    if (r.forMs > 0) rule.for = promDuration(r.forMs);
    if (r.keepFiringForMs > 0) rule.keep_firing_for = promDuration(r.keepFiringForMs);
    rule.labels = r.labels;
    // our templates become Prometheus' ($labels keys are the exposition's label names)
    rule.annotations = Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, withThreshold(v, r).replace(/\{\{\s*\$labels\.([\w.]+)\s*\}\}/g, (_, l: string) => `{{ $labels.${label(l)} }}`)]));
    const name = `${r.file.replace(/\.(ya?ml|json)$/, '')}.${r.group}`;
    const list = groups.get(name);
    if (list) list.push(rule);
    else groups.set(name, [rule]);
  }
  return { yaml: stringify({ groups: [...groups].map(([name, rs]) => ({ name, rules: rs })) }, { lineWidth: 0 }), skipped };
}

// ---- CloudWatch -------------------------------------------------------------------------------

/** One PutMetricAlarm input (AWS CloudWatch API reference, PutMetricAlarm request parameters). */
export interface PutMetricAlarmInput {
  AlarmName: string;
  AlarmDescription?: string;
  ActionsEnabled: boolean;
  Namespace: string;
  MetricName: string;
  Dimensions: { Name: string; Value: string }[];
  Statistic?: 'SampleCount' | 'Average' | 'Sum' | 'Minimum' | 'Maximum';
  ExtendedStatistic?: string;
  Period: number;
  EvaluationPeriods: number;
  DatapointsToAlarm: number;
  Threshold: number;
  ComparisonOperator: 'GreaterThanThreshold' | 'GreaterThanOrEqualToThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';
  TreatMissingData: 'notBreaching';
  Unit?: string;
}

const CW_OPERATORS: Partial<Record<AlertRule['expr']['op'], PutMetricAlarmInput['ComparisonOperator']>> = { '>': 'GreaterThanThreshold', '>=': 'GreaterThanOrEqualToThreshold', '<': 'LessThanThreshold', '<=': 'LessThanOrEqualToThreshold' };

/**
 * Our rules as CloudWatch alarms over the metrics as the CloudWatch exporter publishes them
 * (namespace SoleMate/Performance, durations in milliseconds, dimensions service / route / method).
 * CloudWatch alarms watch one dimension set: rules with `by`, error ratios and == / != are listed as skipped.
 */
export function toCloudWatchAlarms(rules: AlertRule[], namespace = 'SoleMate/Performance'): { alarms: PutMetricAlarmInput[]; skipped: { rule: string; reason: string }[] } {
  const alarms: PutMetricAlarmInput[] = [];
  const skipped: { rule: string; reason: string }[] = [];
  for (const r of rules) {
    const op = CW_OPERATORS[r.expr.op];
    const a = r.expr.aggregation;
    const why = r.expr.by.length ? 'an alarm watches one dimension set; `by` needs one alarm per value' : !op ? `CloudWatch has no ${r.expr.op} comparison` : a === 'error_ratio' || a === 'last' ? `${a} needs metric math` : undefined;
    if (why) {
      skipped.push({ rule: r.id, reason: why });
      continue;
    }
    const f = r.expr.filters;
    const dims = cloudWatchDimensions(f);
    // whole minutes, at least one: CloudWatch periods are 10, 30 or multiples of 60 s
    const period = Math.max(60, Math.round(r.windowMs / 60_000) * 60);
    const evaluations = Math.max(1, Math.ceil(r.forMs / (period * 1000)) + 1);
    const stat: Pick<PutMetricAlarmInput, 'Statistic' | 'ExtendedStatistic'> = a[0] === 'p' ? { ExtendedStatistic: a } : { Statistic: cloudWatchStatistic(a) as PutMetricAlarmInput['Statistic'] };
    alarms.push({
      AlarmName: `${r.alert}${f.service ? `-${f.service}` : ''}`.slice(0, 255),
      AlarmDescription: withThreshold(r.annotations.summary ?? r.id, r).slice(0, 1024),
      ActionsEnabled: true,
      Namespace: namespace,
      MetricName: r.expr.metric,
      Dimensions: dims,
      ...stat,
      Period: period,
      EvaluationPeriods: evaluations,
      DatapointsToAlarm: evaluations,
      // rate is per second; SampleCount is per period
      Threshold: a === 'rate' ? r.expr.threshold * period : r.expr.threshold,
      ComparisonOperator: op!,
      TreatMissingData: 'notBreaching',
    });
  }
  return { alarms, skipped };
}

/** The dimensions our CloudWatch metrics carry, from a condition's filters. */
export function cloudWatchDimensions(f: { service?: string; route?: string; method?: string }): { Name: string; Value: string }[] {
  return [f.service && { Name: 'service', Value: f.service }, f.route && { Name: 'route', Value: f.route }, f.method && { Name: 'method', Value: f.method }].filter(Boolean) as { Name: string; Value: string }[];
}

/** The CloudWatch statistic of an aggregation: pNN as is, the others by name (rate: SampleCount per period). */
export function cloudWatchStatistic(a: string): string {
  return a[0] === 'p' ? a : ({ avg: 'Average', max: 'Maximum', min: 'Minimum', count: 'SampleCount', rate: 'SampleCount' } as Record<string, string>)[a];
}

// ---- Datadog ------------------------------------------------------------------------------------

/** A Datadog monitor definition (POST /api/v1/monitor body). */
export interface DatadogMonitor {
  name: string;
  type: 'query alert';
  query: string;
  message: string;
  tags: string[];
  priority: number;
  options: { thresholds: { critical: number }; notify_no_data: boolean; require_full_window: boolean; new_group_delay?: number };
}

/**
 * Our rules as Datadog monitors over the OpenTelemetry metrics as Datadog ingests them
 * (histograms as distributions, durations in seconds; attribute names as tag keys).
 */
export function toDatadogMonitors(rules: AlertRule[]): { monitors: DatadogMonitor[]; skipped: { rule: string; reason: string }[] } {
  const monitors: DatadogMonitor[] = [];
  const skipped: { rule: string; reason: string }[] = [];
  const ddTag: Record<string, string> = { route: 'http.route', method: 'http.request.method', status: 'http.response.status_code', service: 'service', instance: 'host' };
  for (const r of rules) {
    const meta = KNOWN_METRICS[r.expr.metric];
    const a = r.expr.aggregation;
    if (r.expr.op === '==' || r.expr.op === '!=' || a === 'error_ratio' || a === 'last' || a === 'min') {
      skipped.push({ rule: r.id, reason: `${a === 'error_ratio' || a === 'last' || a === 'min' ? a : r.expr.op} has no single-query monitor form` });
      continue;
    }
    const seconds = meta && (meta.unit === 's' || meta.unit === 'ms');
    const f = r.expr.filters;
    const scope = [f.service && `service:${f.service}`, f.route && `http.route:${f.route}`, f.method && `http.request.method:${f.method}`, ...Object.entries(f.tags ?? {}).map(([k, v]) => `${k}:${v}`)].filter(Boolean).join(',') || '*';
    const by = r.expr.by.length ? ` by {${r.expr.by.map((b) => ddTag[b] ?? b).join(',')}}` : '';
    const window = `last_${Math.max(1, Math.round(r.windowMs / 60_000))}m`;
    const agg = a[0] === 'p' ? a : a === 'rate' ? 'count' : a === 'count' ? 'count' : a;
    const space = a === 'rate' ? `sum(${window}):${agg}:${r.expr.metric}{${scope}}${by}.as_rate()` : a === 'count' ? `sum(${window}):${agg}:${r.expr.metric}{${scope}}${by}.as_count()` : `avg(${window}):${agg}:${r.expr.metric}{${scope}}${by}`;
    // our thresholds are in ms for durations; Datadog sees seconds
    const threshold = seconds && a !== 'rate' && a !== 'count' ? r.expr.threshold / 1000 : r.expr.threshold;
    monitors.push({
      name: `${r.alert}${f.service ? ` (${f.service})` : ''}`,
      type: 'query alert',
      query: `${space} ${r.expr.op} ${threshold}`,
      message: `${withThreshold(r.annotations.summary ?? r.alert, r).replace(/\{\{\s*\$value\s*\}\}/g, '{{value}}').replace(/\{\{\s*\$labels\.([\w.]+)\s*\}\}/g, (_, l: string) => `{{${ddTag[l] ?? l}.name}}`)}${r.annotations.runbook_url ? `\nRunbook: ${r.annotations.runbook_url}` : ''}`,
      tags: Object.entries(r.labels).map(([k, v]) => `${k}:${v}`).concat(['source:solemate-performance']),
      priority: r.labels.severity === 'critical' ? 1 : 3,
      options: { thresholds: { critical: threshold }, notify_no_data: false, require_full_window: false, ...(r.forMs > 0 ? { new_group_delay: Math.round(r.forMs / 1000) } : {}) },
    });
  }
  return { monitors, skipped };
}
