// solemate-perf dashboards: the dashboards as code (performance/dashboards), validated, listed, and
// exported as a Grafana dashboard or a CloudWatch dashboard body.
import fs from 'node:fs';
import { PerfError } from '../../errors.js';
import { DEFAULT_DASHBOARDS, findDashboard, loadDashboards, toCloudWatch, toGrafana } from '../../dashboards/dashboards.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'dashboards',
    summary: 'List and validate the dashboards as code; export one to Grafana or CloudWatch.',
    usage: 'solemate-perf dashboards [list] | export <name> --format grafana|cloudwatch [--out FILE] [--namespace NS] [--region R] [--dir DIR] [--json]',
    options: { format: { type: 'string', short: 'f' }, out: { type: 'string', short: 'o' }, dir: { type: 'string' }, namespace: { type: 'string' }, region: { type: 'string' } },
    help: { format: 'grafana (dashboard JSON over /metrics via Prometheus) or cloudwatch (PutDashboard body)', out: 'write the export to this file (default stdout)', dir: 'dashboard directory (default the shipped performance/dashboards)', namespace: 'CloudWatch namespace (default SoleMate/Performance)', region: 'CloudWatch region of the widgets (default us-east-1)' },
  };
}

export async function run(values: Record<string, unknown>, pos: string[], io: Io): Promise<number> {
  const dir = (values.dir as string | undefined) ?? DEFAULT_DASHBOARDS;
  const [verb = 'list', name] = pos;
  if (verb === 'list') {
    const all = loadDashboards(dir);
    if (values.json) io.out(JSON.stringify(all, null, 2));
    else for (const d of all) io.out(`${d.name.padEnd(14)} ${d.title} — ${d.panels.length} panels`);
    return 0;
  }
  if (verb !== 'export') throw new PerfError('PERF_ERR_USAGE', `unknown subcommand "${verb}" (list or export)`);
  if (!name) throw new PerfError('PERF_ERR_USAGE', 'name the dashboard to export (solemate-perf dashboards lists them)');
  const d = findDashboard(name, dir);
  const format = values.format as string | undefined;
  const exported = format === 'grafana' ? toGrafana(d) : format === 'cloudwatch' ? toCloudWatch(d, { namespace: values.namespace as string | undefined, region: values.region as string | undefined }) : undefined;
  if (!exported) throw new PerfError('PERF_ERR_USAGE', '--format must be grafana or cloudwatch');
  const text = JSON.stringify(exported.dashboard, null, 2);
  if (values.out) fs.writeFileSync(String(values.out), `${text}\n`);
  else io.out(values.json ? JSON.stringify(exported, null, 2) : text);
  for (const s of exported.skipped) io.err(`skipped ${s.panel}: ${s.reason}`);
  return 0;
}

export default { build, run } satisfies Command;
