import type { PerformanceMetrics } from '../../query/metrics.js';
import { DEFAULT_URL, getJson } from '../client.js';
import type { Command, CommandSpec, Io } from '../command.js';

const FILTERS = ['service', 'instance', 'route', 'method', 'status', 'from', 'to'] as const;

export function build(): CommandSpec {
  return {
    name: 'metrics',
    summary: 'Response time, throughput, error rate and resource use, computed from stored data.',
    usage: 'solemate-perf metrics [--url URL] [--route /products/:id] [--from -1h] [--json]',
    options: Object.fromEntries([['url', { type: 'string' }], ...FILTERS.map((f) => [f, { type: 'string' }])]),
    help: {
      url: 'performance server (default $SOLEMATE_PERF_URL or http://127.0.0.1:4318)',
      service: 'only this service',
      instance: 'only this instance',
      route: 'only this route template',
      method: 'only this HTTP method',
      status: 'only this status code or class (5xx)',
      from: 'window start: ISO time, Unix ms or relative (-15m); default -5m',
      to: 'window end (default now)',
    },
  };
}

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  const params = Object.fromEntries(FILTERS.map((f) => [f, values[f] as string | undefined]));
  const m = await getJson<PerformanceMetrics>(String(values.url ?? io.env.SOLEMATE_PERF_URL ?? DEFAULT_URL), '/api/metrics', params);
  if (values.json) {
    io.out(JSON.stringify(m, null, 2));
    return 0;
  }
  const v = (x: number | null, unit: string) => (x === null ? '—' : `${x} ${unit}`);
  io.out(`${m.from} – ${m.to}`);
  io.out(`  requests      ${m.throughput.requests}  (${m.throughput.requestsPerSecond} req/s)`);
  io.out(`  response time avg ${v(m.responseTime.average, 'ms')}  p50 ${v(m.responseTime.p50, 'ms')}  p95 ${v(m.responseTime.p95, 'ms')}  p99 ${v(m.responseTime.p99, 'ms')}`);
  io.out(`  errors        ${m.errorRate.count}  (${v(m.errorRate.percentage, '%')})`);
  io.out(`  resources     cpu ${v(m.resourceUsage.cpu, '%')}  memory ${v(m.resourceUsage.memory, '%')}  disk ${v(m.resourceUsage.disk, '%')}`);
  return 0;
}

export default { build, run } satisfies Command;
