import type { PerformanceStatus } from '../../query/status.js';
import { DEFAULT_URL, getJson } from '../client.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'status',
    summary: 'Health of the service against the monitoring thresholds (last five minutes by default).',
    usage: 'solemate-perf status [--url http://127.0.0.1:4318] [--service shop] [--from -15m] [--json]',
    options: { url: { type: 'string' }, service: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
    help: { url: 'performance server (default $SOLEMATE_PERF_URL or http://127.0.0.1:4318)', service: 'only this service', from: 'window start: ISO time, Unix ms or relative (-15m)', to: 'window end (default now)' },
  };
}

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  const s = await getJson<PerformanceStatus>(String(values.url ?? io.env.SOLEMATE_PERF_URL ?? DEFAULT_URL), '/api/status', { service: values.service as string, from: values.from as string, to: values.to as string });
  if (values.json) io.out(JSON.stringify(s, null, 2));
  else {
    io.out(`status: ${s.status}   (${s.window.from} – ${s.window.to})`);
    for (const c of s.checks) io.out(`  ${c.name.padEnd(13)} ${c.value === null ? '—'.padStart(10) : String(c.value).padStart(10)} ${c.unit.padEnd(3)} warn ≥ ${c.warningAt}  crit ≥ ${c.criticalAt}  ${c.status}`);
  }
  return s.status === 'critical' ? 3 : 0;
}

export default { build, run } satisfies Command;
