// Alerts as code beyond our server: the same rules as a Prometheus rule file, over the series our
// /metrics endpoint exposes (snake_case names, base units, service_name / service_instance_id
// labels). A rule that PromQL over classic histograms cannot express (min/max/last of a histogram,
// a quantile of a gauge) is left out and listed with the reason.
import { stringify } from 'yaml';
import { promName, snake } from '../server/prometheus.js';
import type { MetricKind } from '../model.js';
import type { AlertRule } from './rules.js';

/** Kind and unit of the metrics the shipped rules use; others are looked up in the store. */
export const KNOWN_METRICS: Record<string, { kind: MetricKind; unit: string }> = {
  'http.server.request.duration': { kind: 'histogram', unit: 's' },
  'db.client.operation.duration': { kind: 'histogram', unit: 's' },
  'nodejs.eventloop.delay': { kind: 'histogram', unit: 's' },
  'v8js.gc.duration': { kind: 'histogram', unit: 's' },
  'process.cpu.utilization': { kind: 'gauge', unit: '1' },
  'solemate.process.memory.utilization': { kind: 'gauge', unit: '1' },
  'solemate.sdk.dropped': { kind: 'counter', unit: '{record}' },
  'solemate.cache.requests': { kind: 'counter', unit: '{request}' },
  'solemate.http.server.db.queries': { kind: 'histogram', unit: '{query}' },
  'solemate.http.server.db.time_share': { kind: 'histogram', unit: '1' },
  'redis.keyspace.hit_ratio': { kind: 'gauge', unit: '1' },
  'solemate.uptime.checks': { kind: 'counter', unit: '{check}' },
};

const LABEL: Record<string, string> = { route: 'http_route', method: 'http_request_method', status: 'http_response_status_code', service: 'service_name', instance: 'service_instance_id' };
const label = (k: string) => LABEL[k] ?? snake(k);
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
  return { expr: `${agg}${by.length ? ` by (${by.join(', ')})` : ''} (${over}(${name}${sel}[${w}]))${scale !== 1 ? ` * ${1 / scale}` : ''}` };
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
    rule.annotations = Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, v.replace(/\{\{\s*\$labels\.([\w.]+)\s*\}\}/g, (_, l: string) => `{{ $labels.${label(l)} }}`)]));
    const name = `${r.file.replace(/\.(ya?ml|json)$/, '')}.${r.group}`;
    const list = groups.get(name);
    if (list) list.push(rule);
    else groups.set(name, [rule]);
  }
  return { yaml: stringify({ groups: [...groups].map(([name, rs]) => ({ name, rules: rs })) }, { lineWidth: 0 }), skipped };
}
