// solemate-perf analyze: runs the analyzers over the stored data (and the database and page when
// given) and prints the recommendations, ranked, with what each estimate was derived from.
import type { Command, CommandSpec, Io } from '../command.js';
import { openOptimizer, OPTIMIZER_HELP, OPTIMIZER_OPTIONS } from '../optimize/open.js';

export function build(): CommandSpec {
  return {
    name: 'analyze',
    summary: 'Find what makes the service slow: analyzers over the stored metrics and traces, ranked recommendations with evidence.',
    usage: 'solemate-perf analyze [--window 15m] [--data FILE | --config FILE] [--database-url URL] [--site URL] [--json]',
    options: { ...OPTIMIZER_OPTIONS },
    help: { ...OPTIMIZER_HELP },
  };
}

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  const { service, close } = await openOptimizer(values, io);
  try {
    const analysis = await service.analyzePerformance();
    const recommendations = await service.getOptimizationRecommendations();
    if (values.json) {
      io.out(JSON.stringify({ at: analysis.at, windowMs: analysis.windowMs, recommendations, analyzers: analysis.results }, null, 2));
      return 0;
    }
    if (recommendations.length === 0) io.out('no findings');
    for (const r of recommendations) {
      io.out(`${String(r.priority).padStart(2)}. ${r.severity.padEnd(8)} ${r.title}  [${r.analyzer}]`);
      io.out(`    ${r.automatic ? 'automatic' : 'manual'} · ${r.effort} effort · id ${r.id}`);
      io.out(`    impact: ${r.impact.estimate} ${r.impact.unit} ${r.impact.metric} — ${r.impact.derivedFrom}`);
    }
    for (const r of analysis.results) if (r.status === 'not_applicable' || r.status === 'error') io.err(`${r.id}: ${r.status === 'error' ? 'error: ' : ''}${r.reason}`);
    return 0;
  } finally {
    await close();
  }
}

export default { build, run } satisfies Command;
