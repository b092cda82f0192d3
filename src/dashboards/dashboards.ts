// Dashboards as code (performance/dashboards/*.json): the panels the UI renders, in a documented
// schema (docs/dashboards.md), and their exports — a Grafana dashboard over the series /metrics
// exposes (the same PromQL as the alert-rule export) and a CloudWatch dashboard body over the
// metric names the CloudWatch alarm export uses.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AGGREGATIONS, type AlertRule } from '../alerts/rules.js';
import { KNOWN_METRICS, cloudWatchDimensions, cloudWatchStatistic, label, promql } from '../alerts/export.js';
import { filtersSchema } from '../config/schema.js';
import { PerfError } from '../errors.js';
import { parseDuration } from '../query/filters.js';
import { parseYaml } from '../yaml.js';

/** The dashboards shipped with the package, wherever it is installed. */
export const DEFAULT_DASHBOARDS = fileURLToPath(new URL('../../performance/dashboards', import.meta.url));

const duration = z.string().refine((v) => {
  try {
    return parseDuration(v) > 0;
  } catch {
    return false;
  }
}, 'a duration such as 5m or 1h');

const query = z.object({ metric: z.string().min(1), aggregation: z.enum(AGGREGATIONS), window: duration.default('5m'), filters: filtersSchema.default({}), by: z.array(z.string()).default([]) }).strict();

const panelSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
    title: z.string().min(1),
    description: z.string().optional(),
    /** timeseries and stat plot queries; the others show the server's own lists */
    type: z.enum(['timeseries', 'stat', 'table', 'alerts', 'slos', 'recommendations', 'optimizations', 'traces', 'loadtests']),
    queries: z.array(query).default([]),
    unit: z.string().optional(),
    /** 12 columns a row */
    width: z.number().int().min(1).max(12).default(6),
    height: z.number().int().min(1).max(24).default(8),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.type === 'timeseries' || p.type === 'stat') && p.queries.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['queries'], message: `a ${p.type} panel needs at least one query` });
  });

export const dashboardSchema = z
  .object({
    title: z.string().min(1),
    description: z.string().optional(),
    /** default time range shown, e.g. 1h */
    range: duration.default('1h'),
    /** seconds between refreshes when live updates are off */
    refresh: z.number().int().min(1).default(10),
    panels: z.array(panelSchema).min(1),
  })
  .strict()
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.panels.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['panels', i, 'id'], message: `duplicate panel id ${p.id}` });
      seen.add(p.id);
    });
  });

export type Dashboard = z.output<typeof dashboardSchema> & { name: string };
export type Panel = Dashboard['panels'][number];

/** Parses a dashboard file; PERF_ERR_USAGE with file:line:col and the field. */
export function parseDashboard(text: string, file: string): Dashboard {
  return { ...parseYaml(text, path.basename(file), dashboardSchema).data, name: path.basename(file).replace(/\.(json|ya?ml)$/, '') };
}

export function loadDashboards(dir = DEFAULT_DASHBOARDS): Dashboard[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(json|ya?ml)$/.test(f))
    .sort()
    .map((f) => parseDashboard(fs.readFileSync(path.join(dir, f), 'utf8'), path.join(dir, f)));
}

/** Panels laid out left to right in rows of 12 columns: x, y in grid units. */
function layout(panels: Panel[]): { p: Panel; x: number; y: number }[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return panels.map((p) => {
    if (x + p.width > 12) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const at = { p, x, y };
    x += p.width;
    rowHeight = Math.max(rowHeight, p.height);
    return at;
  });
}

const asRule = (q: Panel['queries'][number], id: string): AlertRule => ({ id, alert: id, group: '', file: '', expr: { ...q, op: '>', threshold: 0 }, windowMs: parseDuration(q.window), forMs: 0, keepFiringForMs: 0, labels: {}, annotations: {} });

export interface Export<T> {
  dashboard: T;
  /** panels or queries the format cannot show, with why */
  skipped: { panel: string; reason: string }[];
}

/** A Grafana dashboard (schemaVersion 39) over a Prometheus data source scraping /metrics. */
export function toGrafana(d: Dashboard, lookup: (metric: string) => { kind: 'counter' | 'gauge' | 'histogram'; unit: string } | undefined = (m) => KNOWN_METRICS[m]): Export<Record<string, unknown>> {
  const skipped: Export<unknown>['skipped'] = [];
  const panels = [];
  for (const { p, x, y } of layout(d.panels)) {
    if (p.type !== 'timeseries' && p.type !== 'stat') {
      skipped.push({ panel: p.id, reason: `${p.type} panels show the performance server's own lists (open its dashboard)` });
      continue;
    }
    const targets = [];
    for (const [i, q] of p.queries.entries()) {
      const meta = lookup(q.metric);
      const r = meta ? promql(asRule(q, p.id), meta) : { skip: `kind and unit of ${q.metric} are unknown` };
      if ('skip' in r) skipped.push({ panel: p.id, reason: r.skip });
      else targets.push({ refId: String.fromCharCode(65 + i), expr: r.expr, legendFormat: q.by.length ? q.by.map((b) => `{{${label(b)}}}`).join(' ') : `${q.aggregation} ${q.metric}` });
    }
    if (targets.length === 0) continue;
    panels.push({ id: panels.length + 1, type: p.type, title: p.title, description: p.description, gridPos: { x: x * 2, y, w: p.width * 2, h: p.height }, datasource: { type: 'prometheus', uid: '${datasource}' }, targets, fieldConfig: { defaults: { unit: grafanaUnit(p.unit) }, overrides: [] } });
  }
  return {
    dashboard: {
      title: d.title,
      description: d.description,
      uid: `solemate-${d.name}`.slice(0, 40),
      schemaVersion: 39,
      time: { from: `now-${d.range}`, to: 'now' },
      refresh: `${d.refresh}s`,
      templating: { list: [{ name: 'datasource', type: 'datasource', query: 'prometheus' }] },
      panels,
    },
    skipped,
  };
}

const grafanaUnit = (u: string | undefined) => ({ ms: 'ms', s: 's', '%': 'percent', '1': 'percentunit', 'req/s': 'reqps', By: 'bytes' })[u ?? ''] ?? u ?? 'short';

/** A CloudWatch dashboard body (PutDashboard DashboardBody) over the exported metric names. */
export function toCloudWatch(d: Dashboard, o: { namespace?: string; region?: string } = {}): Export<{ widgets: Record<string, unknown>[] }> {
  const namespace = o.namespace ?? 'SoleMate/Performance';
  const skipped: Export<unknown>['skipped'] = [];
  const widgets = [];
  for (const { p, x, y } of layout(d.panels)) {
    if (p.type !== 'timeseries' && p.type !== 'stat') {
      skipped.push({ panel: p.id, reason: `${p.type} panels show the performance server's own lists` });
      continue;
    }
    const metrics = [];
    for (const q of p.queries) {
      if (q.aggregation === 'error_ratio' || q.aggregation === 'last' || q.by.length) {
        skipped.push({ panel: p.id, reason: q.by.length ? 'a metric widget line is one dimension set; `by` needs SEARCH()' : `${q.aggregation} needs metric math` });
        continue;
      }
      const dims = cloudWatchDimensions(q.filters).flatMap((d) => [d.Name, d.Value]);
      const stat = cloudWatchStatistic(q.aggregation);
      metrics.push([namespace, q.metric, ...dims, { stat, period: Math.max(60, Math.round(parseDuration(q.window) / 60_000) * 60) }]);
    }
    if (metrics.length === 0) continue;
    widgets.push({ type: 'metric', x: x * 2, y, width: p.width * 2, height: Math.min(p.height, 1000), properties: { title: p.title, view: p.type === 'stat' ? 'singleValue' : 'timeSeries', region: o.region ?? 'us-east-1', metrics } });
  }
  return { dashboard: { widgets }, skipped };
}

export function findDashboard(name: string, dir = DEFAULT_DASHBOARDS): Dashboard {
  const all = loadDashboards(dir);
  const d = all.find((x) => x.name === name);
  if (!d) throw new PerfError('PERF_ERR_USAGE', `no dashboard ${name} (there are: ${all.map((x) => x.name).join(', ')})`);
  return d;
}
