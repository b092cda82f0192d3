// Alert rules as files (performance/alerts/*.yml), close to Prometheus alerting rules: groups of
// rules, each with a condition over our query layer, `for`, `keep_firing_for`, labels and
// annotations with {{ $value }} / {{ $labels.x }} templates. A file with an error is reported with
// its file, line and rule name; the other files load, and the last good version of the broken one
// stays in force.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { PerfError } from '../errors.js';
import { parseDuration } from '../query/filters.js';
import { parseYaml } from '../yaml.js';
import { filtersSchema, type PerformanceConfig } from '../config/schema.js';
import { OPERATORS } from '../query/compare.js';

export const AGGREGATIONS = ['avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'rate', 'count', 'error_ratio', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

const duration = z.string().refine((v) => {
  try {
    return parseDuration(v) > 0;
  } catch {
    return false;
  }
}, 'a duration such as 30s, 5m, 1h');
const optionalDuration = z.union([z.literal('0s'), z.literal('0'), duration]);

const exprSchema = z
  .object({
    metric: z.string().min(1),
    aggregation: z.enum(AGGREGATIONS),
    window: duration,
    filters: filtersSchema.default({}),
    /** one alert instance per distinct value of these (route, method, status, service, instance, or an attribute name) */
    by: z.array(z.string()).default([]),
    op: z.enum(OPERATORS),
    /** a number, or a monitoring threshold at a level: { from: responseTime, level: warning } */
    threshold: z.union([z.number(), z.object({ from: z.enum(['responseTime', 'errorRate', 'cpuUsage', 'memoryUsage']), level: z.enum(['critical', 'warning']).default('critical') }).strict()]),
  })
  .strict();

const ruleSchema = z
  .object({
    alert: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'alert names are letters, digits and _'),
    expr: exprSchema,
    for: optionalDuration.default('0s'),
    keep_firing_for: optionalDuration.default('0s'),
    labels: z.record(z.string()).default({}),
    annotations: z.record(z.string()).default({}),
  })
  .strict()
  .refine((r) => r.labels.severity === undefined || r.labels.severity === 'critical' || r.labels.severity === 'warning', { message: 'labels.severity is critical or warning', path: ['labels', 'severity'] });

const fileSchema = z
  .object({
    groups: z.array(z.object({ name: z.string().min(1), interval: duration.optional(), rules: z.array(ruleSchema) }).strict()),
  })
  .strict();

/** A rule's condition with its threshold resolved to a number. */
export type AlertExpr = Omit<z.output<typeof exprSchema>, 'threshold'> & { threshold: number };

/** monitoring.thresholds and alerting.thresholds: what `threshold: { from, level }` resolves against. */
export interface ThresholdContext {
  monitoring: { responseTime: number; errorRate: number; cpuUsage: number; memoryUsage: number };
  levels: { critical: number; warning: number };
}

/** The context a configuration gives: monitoring.thresholds at the levels of alerting.thresholds. */
export function thresholdContext(config: Pick<PerformanceConfig, 'monitoring' | 'alerting'>): ThresholdContext {
  return { monitoring: config.monitoring.thresholds, levels: config.alerting.thresholds };
}

/** The PRD's defaults (the same as the config's). */
export const DEFAULT_THRESHOLDS: ThresholdContext = { monitoring: { responseTime: 200, errorRate: 0.1, cpuUsage: 80, memoryUsage: 85 }, levels: { critical: 1, warning: 0.8 } };

/**
 * responseTime is in ms (as durations in rules); errorRate, cpuUsage and memoryUsage are % in the
 * config and ratios (0–1) in rules. The level scales by alerting.thresholds.critical / warning.
 */
function resolveThreshold(t: z.output<typeof exprSchema>['threshold'], ctx: ThresholdContext): number {
  if (typeof t === 'number') return t;
  const v = ctx.monitoring[t.from] * ctx.levels[t.level];
  return t.from === 'responseTime' ? v : v / 100;
}

export interface AlertRule {
  /** "<file>/<group>/<alert>": unique */
  id: string;
  alert: string;
  group: string;
  file: string;
  expr: AlertExpr;
  windowMs: number;
  forMs: number;
  keepFiringForMs: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The rule files shipped with the package (performance/alerts), wherever it is installed. */
export const DEFAULT_RULES = fileURLToPath(new URL('../../performance/alerts', import.meta.url));

const ms = (v: string) => (v === '0' || v === '0s' ? 0 : parseDuration(v));

/** Parses one rule file; PERF_ERR_USAGE with "file:line:col: groups[0].rules[2] (HighLatency).expr.op: …". */
export function parseRuleFile(text: string, file: string, ctx: ThresholdContext = DEFAULT_THRESHOLDS): AlertRule[] {
  const name = path.basename(file);
  let located;
  try {
    located = parseYaml(text, name, fileSchema);
  } catch (e) {
    throw withRuleName(e, text);
  }
  const rules: AlertRule[] = [];
  const seen = new Set<string>();
  located.data.groups.forEach((g, gi) =>
    g.rules.forEach((r, ri) => {
      const id = `${name}/${g.name}/${r.alert}`;
      if (seen.has(id)) located.fail(['groups', gi, 'rules', ri, 'alert'], `${r.alert} appears twice in group ${g.name}`);
      seen.add(id);
      rules.push({ id, alert: r.alert, group: g.name, file: name, expr: { ...r.expr, threshold: resolveThreshold(r.expr.threshold, ctx) }, windowMs: parseDuration(r.expr.window), forMs: ms(r.for), keepFiringForMs: ms(r.keep_firing_for), labels: { severity: 'warning', ...r.labels }, annotations: r.annotations });
    }),
  );
  return rules;
}

/** The PRD's PerformanceAlert: a rule as the API takes it (the shape of one entry of a rule file). */
export type PerformanceAlert = z.input<typeof ruleSchema>;

export const API_FILE = 'api';

/** A rule sent to the API → AlertRule, or a PERF_ERR_BAD_REQUEST naming the field. */
export function parseRuleObject(body: unknown, ctx: ThresholdContext = DEFAULT_THRESHOLDS): AlertRule {
  const r = ruleSchema.safeParse(body);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new PerfError('PERF_ERR_BAD_REQUEST', `${i.path.join('.') || 'body'}: ${i.message}`);
  }
  const x = r.data;
  return { id: `${API_FILE}/${API_FILE}/${x.alert}`, alert: x.alert, group: API_FILE, file: API_FILE, expr: { ...x.expr, threshold: resolveThreshold(x.expr.threshold, ctx) }, windowMs: parseDuration(x.expr.window), forMs: ms(x.for), keepFiringForMs: ms(x.keep_firing_for), labels: { severity: 'warning', ...x.labels }, annotations: x.annotations };
}

/** Adds the rule's name to a located error: "groups[0].rules[2]" → "groups[0].rules[2] (HighLatency)". */
function withRuleName(e: unknown, text: string): unknown {
  if (!(e instanceof PerfError)) return e;
  const m = /groups\[(\d+)\]\.rules\[(\d+)\]/.exec(e.message);
  if (!m) return e;
  try {
    const raw = parseYaml(text, 'x', z.any()).data as { groups?: { rules?: { alert?: unknown }[] }[] };
    const alert = raw.groups?.[Number(m[1])]?.rules?.[Number(m[2])]?.alert;
    if (typeof alert === 'string') return new PerfError(e.code, e.message.replace(m[0], `${m[0]} (${alert})`));
  } catch {
    // keep the message as it is
  }
  return e;
}

export interface RuleSet {
  rules: AlertRule[];
  /** file → the error that kept its last good version (or nothing) in force */
  errors: Record<string, string>;
  /** path → what was parsed and when the file was last changed, so unchanged files are not parsed again */
  parsed?: Map<string, { stamp: string; rules: AlertRule[] }>;
}

/**
 * Loads every *.yml / *.yaml / *.json in `dirs`. A broken file keeps the rules it had in
 * `previous` (its last good version) and its error is reported.
 */
export function loadRules(dirs: string[], previous?: RuleSet, ctx: ThresholdContext = DEFAULT_THRESHOLDS): RuleSet {
  const rules: AlertRule[] = [];
  const errors: Record<string, string> = {};
  const parsed = new Map<string, { stamp: string; rules: AlertRule[] }>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = fs.readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
    } catch (e) {
      errors[dir] = `cannot read rule directory: ${(e as Error).message}`;
      continue;
    }
    for (const f of files) {
      const full = path.join(dir, f);
      try {
        // unchanged since the last load (same mtime and size): its parsed rules are reused
        const st = fs.statSync(full);
        const stamp = `${st.mtimeMs}:${st.size}`;
        const cached = previous?.parsed?.get(full);
        const fileRules = cached && cached.stamp === stamp ? cached.rules : parseRuleFile(fs.readFileSync(full, 'utf8'), full, ctx);
        parsed.set(full, { stamp, rules: fileRules });
        rules.push(...fileRules);
      } catch (e) {
        errors[f] = (e as Error).message;
        rules.push(...(previous?.rules.filter((r) => r.file === f) ?? []));
      }
    }
  }
  return { rules, errors, parsed };
}

/** {{ $value }}, {{ $threshold }} and {{ $labels.name }} only: templates are text, never code. */
export function renderTemplate(template: string, value: number, labels: Record<string, string>, threshold?: number): string {
  return template.replace(/\{\{\s*\$(value|threshold|labels\.([A-Za-z_][\w.]*))\s*\}\}/g, (_, what: string, label?: string) => {
    if (what === 'value') return formatValue(value);
    if (what === 'threshold') return threshold === undefined ? '' : formatValue(threshold);
    return labels[label!] ?? '';
  });
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}
