import type { PerformanceTrend } from '../../query/trends.js';
import { PerfError } from '../../errors.js';
import { DEFAULT_URL, getJson } from '../client.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'trends',
    summary: 'Direction of a metric over a period: Theil–Sen fit with a Mann–Kendall significance test.',
    usage: 'solemate-perf trends <metric> [--period 24h] [--statistic p95] [--url URL] [--json]',
    options: { url: { type: 'string' }, period: { type: 'string' }, statistic: { type: 'string' }, route: { type: 'string' }, service: { type: 'string' } },
    help: {
      url: 'performance server (default $SOLEMATE_PERF_URL or http://127.0.0.1:4318)',
      period: 'how far back: 1h, 24h, 7d … (default 24h)',
      statistic: 'p50 | p90 | p95 | p99 | avg | max | rate | last (default by metric kind)',
      route: 'only this route template',
      service: 'only this service',
    },
  };
}

export async function run(values: Record<string, unknown>, pos: string[], io: Io): Promise<number> {
  const metric = pos[0];
  if (!metric) throw new PerfError('PERF_ERR_USAGE', 'name a metric, e.g. "solemate-perf trends http.server.request.duration"');
  const t = await getJson<PerformanceTrend>(String(values.url ?? io.env.SOLEMATE_PERF_URL ?? DEFAULT_URL), '/api/trends', {
    metric,
    period: (values.period as string) ?? '24h',
    statistic: values.statistic as string,
    route: values.route as string,
    service: values.service as string,
  });
  if (values.json) io.out(JSON.stringify(t, null, 2));
  else io.out(`${t.metricName} ${t.statistic} over ${t.period}: ${t.trend} (${t.change > 0 ? '+' : ''}${t.change}%, p = ${t.pValue ?? 'n/a'})\n  ${t.method}`);
  return 0;
}

export default { build, run } satisfies Command;
