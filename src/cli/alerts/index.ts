// solemate-perf alerts list | check <file|dir>… | export --format prometheus
import fs from 'node:fs';
import path from 'node:path';
import { toPrometheusRules } from '../../alerts/export.js';
import { DEFAULT_RULES, loadRules, parseRuleFile, type AlertRule } from '../../alerts/rules.js';
import type { AlertInstance } from '../../alerts/state.js';
import { PerfError } from '../../errors.js';
import { DEFAULT_URL, getJson } from '../client.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'alerts',
    summary: 'Alert rules and alerts: list what fires, check rule files, export them for Prometheus.',
    usage: 'solemate-perf alerts list [--url URL] | check <file|dir>… | export --format prometheus [--rules DIR]… [--out FILE]',
    options: { url: { type: 'string' }, rules: { type: 'string', multiple: true }, format: { type: 'string' }, out: { type: 'string', short: 'o' } },
    help: {
      url: 'list: performance server (default $SOLEMATE_PERF_URL or http://127.0.0.1:4318)',
      rules: 'export: rule directories (default: the shipped performance/alerts)',
      format: 'export: prometheus',
      out: 'export: write to this file instead of stdout',
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
    if (values.format !== 'prometheus') throw new PerfError('PERF_ERR_USAGE', '--format prometheus is the export format (CloudWatch and Datadog are planned)');
    const set = loadRules((values.rules as string[] | undefined) ?? [DEFAULT_RULES]);
    for (const [f, e] of Object.entries(set.errors)) throw new PerfError('PERF_ERR_USAGE', `${f}: ${e}`);
    const out = toPrometheusRules(set.rules as AlertRule[]);
    if (values.out) fs.writeFileSync(String(values.out), out.yaml);
    else if (!values.json) io.out(out.yaml.trimEnd());
    if (values.json) io.out(JSON.stringify({ file: values.out, rules: set.rules.length - out.skipped.length, skipped: out.skipped, ...(values.out ? {} : { yaml: out.yaml }) }, null, 2));
    else for (const s of out.skipped) io.err(`skipped ${s.rule}: ${s.reason}`);
    return 0;
  }
  throw new PerfError('PERF_ERR_USAGE', `unknown subcommand "${sub ?? ''}": use list, check or export`);
}

export default { build, run } satisfies Command;
