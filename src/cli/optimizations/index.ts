// solemate-perf optimizations: every optimization this product applied or tried, with its verdict,
// before/after numbers and the success rate (kept / applied).
import { p95Text } from '../../optimize/measure.js';
import type { Command, CommandSpec, Io } from '../command.js';
import { openOptimizer } from '../optimize/open.js';

export function build(): CommandSpec {
  return {
    name: 'optimizations',
    summary: 'History of applied optimizations: verdicts, before/after p95, success rate.',
    usage: 'solemate-perf optimizations [--data FILE | --config FILE] [--json]',
    options: { data: { type: 'string' }, config: { type: 'string' } },
    help: { data: 'SQLite file of the embedded store (default .data/solemate-perf.db)', config: 'config file (the store to read)' },
  };
}

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  const { service, close } = await openOptimizer(values, io);
  try {
    const h = await service.history();
    if (values.json) {
      io.out(JSON.stringify(h, null, 2));
      return 0;
    }
    if (h.optimizations.length === 0) io.out('no optimizations yet (solemate-perf optimize --apply)');
    for (const r of h.optimizations) {
      const p95 = p95Text(r);
      const bytes = r.objective === 'bytes' && r.before && r.after ? `, ${Math.round(r.before.bytesPerResponse)} → ${Math.round(r.after.bytesPerResponse)} B/response` : '';
      io.out(`${new Date(r.createdAt).toISOString().slice(0, 19)}  ${r.state.replace('_', ' ').padEnd(11)} ${r.title}  [${r.id}]`);
      if (p95 || r.reason) io.out(`    ${[p95 + bytes, r.reason].filter(Boolean).join(' · ')}`);
    }
    const s = h.successRate;
    io.out(s.rate === undefined ? 'success rate: nothing applied yet' : `success rate: ${s.kept} kept of ${s.applied} applied (${(s.rate * 100).toFixed(0)}%)`);
    return 0;
  } finally {
    await close();
  }
}

export default { build, run } satisfies Command;
