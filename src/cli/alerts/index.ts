// solemate-perf alerts list | check <file|dir>… | test <file|dir>… | silence … | export --format prometheus|cloudwatch|datadog
import fs from 'node:fs';
import path from 'node:path';
import { toCloudWatchAlarms, toDatadogMonitors, toPrometheusRules } from '../../alerts/export.js';
import { DEFAULT_RULES, formatValue, loadRules, parseRuleFile, thresholdContext, type AlertRule } from '../../alerts/rules.js';
import { compare, CycleReads, evaluateExpr } from '../../alerts/expr.js';
import { loadConfig } from '../../config/load.js';
import { parseDuration } from '../../query/filters.js';
import { QueryEngine } from '../../query/engine.js';
import { openStore } from '../../store/open.js';
import type { AlertInstance } from '../../alerts/state.js';
import { PerfError } from '../../errors.js';
import { DEFAULT_URL, getJson } from '../client.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'alerts',
    summary: 'Alert rules and alerts: list what fires, check rule files, export them for Prometheus.',
    usage: 'solemate-perf alerts list [--url URL] | check <file|dir>… | test <file|dir>… [--rule NAME] | silence -m alertname=X --comment "…" [--duration 1h] | export --format prometheus|cloudwatch|datadog [--rules DIR]… [--out FILE]',
    options: {
      url: { type: 'string' },
      rules: { type: 'string', multiple: true },
      format: { type: 'string' },
      out: { type: 'string', short: 'o' },
      matcher: { type: 'string', short: 'm', multiple: true },
      duration: { type: 'string', short: 'd' },
      comment: { type: 'string' },
      author: { type: 'string' },
      rule: { type: 'string' },
      config: { type: 'string' },
      data: { type: 'string' },
    },
    help: {
      url: 'list: performance server (default $SOLEMATE_PERF_URL or http://127.0.0.1:4318)',
      rules: 'export: rule directories (default: the shipped performance/alerts)',
      format: 'export: prometheus (rule file), cloudwatch (PutMetricAlarm inputs, JSON), datadog (monitor definitions, JSON)',
      out: 'export: write to this file instead of stdout',
      matcher: 'silence: label=value, label!=value, label=~regex, label!~regex (repeatable)',
      duration: 'silence: how long, e.g. 2h (default 1h)',
      comment: 'silence: why (required)',
      author: 'silence: who (default $USER)',
      rule: 'test: the alert name to evaluate (default: every rule in the files)',
      config: 'test, export: config file (the store to evaluate against; monitoring/alerting thresholds)',
      data: 'test: SQLite file of the embedded store (default .data/solemate-perf.db)',
    },
  };
}

export async function run(values: Record<string, unknown>, pos: string[], io: Io): Promise<number> {
  const [sub, ...args] = pos;
  if (sub === 'list') {
    const r = await getJson<{ active: AlertInstance[]; ruleErrors: Record<string, string>; lastCycle?: { at: number; durationMs: number } }>(String(values.url ?? io.env.SOLEMATE_PERF_URL ?? DEFAULT_URL), '/api/alerts', {});
    if (values.json) io.out(JSON.stringify(r, null, 2));
    else {
      if (r.active.length === 0) io.out('no active alerts');
      for (const a of r.active) io.out(`${a.phase.padEnd(8)} ${(a.labels.severity ?? '').padEnd(9)} ${a.alert}${Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => ` ${k}=${v}`).join('')}  ${a.annotations.summary ?? ''}`);
      for (const [f, e] of Object.entries(r.ruleErrors)) io.err(`rule file ${f}: ${e}`);
    }
    return 0;
  }
  if (sub === 'check') {
    if (args.length === 0) throw new PerfError('PERF_ERR_USAGE', 'name rule files or directories, e.g. "solemate-perf alerts check performance/alerts"');
    const files = args.flatMap((a) => (fs.existsSync(a) && fs.statSync(a).isDirectory() ? fs.readdirSync(a).filter((f) => /\.(ya?ml|json)$/.test(f)).map((f) => path.join(a, f)) : [a]));
    const results: { file: string; rules?: number; error?: string }[] = [];
    for (const f of files) {
      try {
        results.push({ file: f, rules: parseRuleFile(fs.readFileSync(f, 'utf8'), f).length });
      } catch (e) {
        results.push({ file: f, error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${f}: no such file` : (e as Error).message });
      }
    }
    if (values.json) io.out(JSON.stringify(results, null, 2));
    else for (const r of results) (r.error ? io.err : io.out)(r.error ? `✗ ${r.error}` : `✓ ${r.file}: ${r.rules} rules`);
    return results.some((r) => r.error) ? 2 : 0;
  }
  if (sub === 'export') {
    const format = values.format as string | undefined;
    if (!format || !['prometheus', 'cloudwatch', 'datadog'].includes(format)) throw new PerfError('PERF_ERR_USAGE', '--format is prometheus, cloudwatch (PutMetricAlarm inputs) or datadog (monitor definitions)');
    const cfg = loadConfig({ file: values.config as string | undefined, env: io.env });
    const set = loadRules((values.rules as string[] | undefined) ?? [DEFAULT_RULES], undefined, thresholdContext(cfg));
    for (const [f, e] of Object.entries(set.errors)) throw new PerfError('PERF_ERR_USAGE', `${f}: ${e}`);
    if (format !== 'prometheus') {
      const r = format === 'cloudwatch' ? toCloudWatchAlarms(set.rules) : toDatadogMonitors(set.rules);
      const items = 'alarms' in r ? r.alarms : r.monitors;
      const text = JSON.stringify(items, null, 2);
      if (values.out) fs.writeFileSync(String(values.out), `${text}\n`);
      if (values.json) io.out(JSON.stringify({ file: values.out, rules: items.length, skipped: r.skipped, ...(values.out ? {} : { [format]: items }) }, null, 2));
      else {
        if (!values.out) io.out(text);
        for (const s of r.skipped) io.err(`skipped ${s.rule}: ${s.reason}`);
      }
      return 0;
    }
    const out = toPrometheusRules(set.rules as AlertRule[]);
    if (values.out) fs.writeFileSync(String(values.out), out.yaml);
    else if (!values.json) io.out(out.yaml.trimEnd());
    if (values.json) io.out(JSON.stringify({ file: values.out, rules: set.rules.length - out.skipped.length, skipped: out.skipped, ...(values.out ? {} : { yaml: out.yaml }) }, null, 2));
    else for (const s of out.skipped) io.err(`skipped ${s.rule}: ${s.reason}`);
    return 0;
  }
  if (sub === 'silence') {
    const matchers = ((values.matcher as string[] | undefined) ?? []).map((m) => {
      const x = /^([A-Za-z_][\w.]*)(=~|!~|!=|=)(.*)$/.exec(m);
      if (!x) throw new PerfError('PERF_ERR_USAGE', `--matcher "${m}": write label=value, label!=value, label=~regex or label!~regex`);
      return { name: x[1], op: x[2], value: x[3] };
    });
    if (matchers.length === 0) throw new PerfError('PERF_ERR_USAGE', 'give at least one --matcher, e.g. -m alertname=SlowRoute');
    if (!values.comment) throw new PerfError('PERF_ERR_USAGE', '--comment says why the alerts are silenced');
    const ms = parseDuration(String(values.duration ?? '1h'));
    const base = String(values.url ?? io.env.SOLEMATE_PERF_URL ?? DEFAULT_URL).replace(/\/+$/, '');
    const token = io.env.SOLEMATE_PERF_INGEST_TOKEN;
    let res: Response;
    try {
      res = await fetch(`${base}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify({ matchers, endsAt: new Date(Date.now() + ms).toISOString(), createdBy: String(values.author ?? io.env.USER ?? 'solemate-perf'), comment: String(values.comment) }) });
    } catch (e) {
      throw new PerfError('PERF_ERR_UNREACHABLE', `cannot reach ${base}: ${(e as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as { id?: string; endsAt?: number; message?: string };
    if (!res.ok) throw new PerfError(res.status < 500 ? 'PERF_ERR_USAGE' : 'PERF_ERR_UNREACHABLE', `the server refused the silence: ${body.message ?? `HTTP ${res.status}`}`);
    io.out(values.json ? JSON.stringify(body, null, 2) : `silence ${body.id} until ${new Date(Number(body.endsAt)).toISOString()}`);
    return 0;
  }
  if (sub === 'test') {
    // evaluates rules once against the stored data now: the value per instance and whether it holds
    const config = loadConfig({ file: values.config as string | undefined, env: io.env, overrides: values.data ? { store: { path: String(values.data) } } : {} });
    const set = loadRules(args.length ? args : [DEFAULT_RULES], undefined, thresholdContext(config));
    for (const [f, e] of Object.entries(set.errors)) throw new PerfError('PERF_ERR_USAGE', `${f}: ${e}`);
    const rules = values.rule ? set.rules.filter((r) => r.alert === values.rule) : set.rules;
    if (rules.length === 0) throw new PerfError('PERF_ERR_USAGE', `no rule named ${values.rule}`);
    const store = await openStore(config);
    try {
      const reads = new CycleReads(new QueryEngine(store, config), Date.now());
      const results = [];
      for (const r of rules) {
        const samples = await evaluateExpr(reads, r.expr, r.windowMs);
        results.push({ rule: r.id, samples: samples.map((s) => ({ labels: s.labels, value: s.value, holds: compare(s.value, r.expr.op, r.expr.threshold) })) });
      }
      if (values.json) io.out(JSON.stringify(results, null, 2));
      else
        for (const r of results) {
          io.out(`${r.rule}: ${r.samples.length === 0 ? 'no data in its window' : ''}`);
          for (const s of r.samples) io.out(`  ${s.holds ? 'HOLDS ' : 'clear '} ${formatValue(s.value)}${Object.keys(s.labels).length ? `  ${JSON.stringify(s.labels)}` : ''}`);
        }
    } finally {
      await store.close();
    }
    return 0;
  }
  throw new PerfError('PERF_ERR_USAGE', `unknown subcommand "${sub ?? ''}": use list, check, test, silence or export`);
}

export default { build, run } satisfies Command;
