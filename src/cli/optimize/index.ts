// solemate-perf optimize: the recommendations that can be applied automatically, checked against
// the system as it is now. A dry run unless --apply (or optimization.autoOptimize): then each is
// applied, measured before/after on the scenario, and kept or rolled back. --rollback <id> undoes a
// kept one. Exit 0 done (also when a change was rolled back: that is the workflow working), 1 when
// an apply failed, 2 bad usage.
import { PerfError } from '../../errors.js';
import { describeAction, type ActionSpec } from '../../optimize/actions.js';
import { p95Text } from '../../optimize/measure.js';
import type { OptimizationRecord } from '../../optimize/tracking.js';
import type { Command, CommandSpec, Io } from '../command.js';
import { openOptimizer, OPTIMIZER_HELP, OPTIMIZER_OPTIONS } from './open.js';

export function build(): CommandSpec {
  return {
    name: 'optimize',
    summary: 'Apply the automatic recommendations (or those named with --only, manual ones with an action included), each measured before/after and kept only if significantly better (dry run by default).',
    usage: 'solemate-perf optimize [--apply] [--only ID]... [--index "table(col, ...)"] [--rollback ID] --target URL --scenario FILE [--database-url URL] [--site URL] [--seconds 8] [--rounds 3] [--rate 40] [--json]',
    options: { ...OPTIMIZER_OPTIONS, apply: { type: 'boolean' }, only: { type: 'string', multiple: true }, index: { type: 'string', multiple: true }, rollback: { type: 'string' }, target: { type: 'string', short: 't' }, scenario: { type: 'string', short: 's' }, seconds: { type: 'string' }, rounds: { type: 'string' }, rate: { type: 'string' }, connections: { type: 'string' } },
    help: {
      ...OPTIMIZER_HELP,
      apply: 'apply, measure and keep or roll back (without it: show what would be done)',
      only: 'only this recommendation id (repeatable); naming a manual one that has an action approves it',
      index: 'also try this index, e.g. "products(category_id, price_cents)" (it is kept only if it helps)',
      rollback: 'undo a kept optimization (its index or setting) and record it',
      target: "the service's base URL (default: the scenario's target); loopback unless allowed",
      scenario: 'load-test scenario to measure with (the routes a change affects are measured)',
      seconds: 'seconds per measured run (default 8)',
      rounds: 'before/after pairs, interleaved (default 3)',
      rate: 'requests per second, the same before and after (default 40)',
      connections: 'connections of the load generator (default 8)',
    },
  };
}

/** "products(category_id, price_cents)" → a create-index action */
export function parseIndexSpec(spec: string): ActionSpec {
  const m = /^\s*([a-z_][\w$]*(?:\.[a-z_][\w$]*)?)\s*\(([^)]+)\)\s*$/i.exec(spec);
  if (!m) throw new PerfError('PERF_ERR_USAGE', `--index: expected table(column, ...), got ${JSON.stringify(spec)}`);
  return { type: 'create-index', table: m[1], columns: m[2].split(',').map((c) => c.trim()).filter(Boolean) };
}

const line = (r: OptimizationRecord) => {
  const p95 = r.before && r.after ? ` · ${p95Text(r)}` : '';
  return `${r.state.replace('_', ' ').padEnd(11)} ${r.title}  [${r.id}]${p95}\n            ${r.events.at(-1)?.message ?? ''}`;
};

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  const log = values.json ? undefined : (m: string) => io.err(m);
  const { config, service, close } = await openOptimizer(values, io, log);
  try {
    if (values.rollback !== undefined) {
      const r = await service.rollbackOptimization(String(values.rollback));
      io.out(values.json ? JSON.stringify(r, null, 2) : line(r));
      return 0;
    }
    const manual = ((values.index as string[] | undefined) ?? []).map((s) => ({ action: parseIndexSpec(s), title: `try index ${s.trim()}` }));
    const only = values.only as string[] | undefined;
    // --index alone tries just that index; otherwise the current recommendations
    const recs = manual.length && !only ? [] : await service.getOptimizationRecommendations();
    if (only) {
      const unknown = only.filter((id) => !recs.some((r) => r.id === id));
      if (unknown.length) throw new PerfError('PERF_ERR_USAGE', `--only: no current recommendation ${unknown.join(', ')} (solemate-perf analyze lists them; one that no longer applies is gone)`);
    }
    // naming a recommendation with --only is the approval a manual one with an action needs (a cache
    // whose answers may be out of date after writes); one without an action is done by hand
    const chosen = [...recs.filter((r) => (only ? only.includes(r.id) : r.automatic)).map((r) => (r.automatic ? r : { ...r, approval: `approved with solemate-perf optimize --only ${r.id}` })), ...manual];
    const byHand = chosen.filter((c) => 'id' in c && !c.action);
    if (byHand.length) throw new PerfError('PERF_ERR_USAGE', `--only: ${byHand.map((c) => ('id' in c ? c.id : '')).join(', ')} has no action to apply; it is a change to make by hand (solemate-perf analyze describes it)`);
    const apply = values.apply === true || config.optimization.autoOptimize;
    if (!apply) {
      const plan = [];
      for (const c of chosen) {
        const why = await service.precheck(c.action!).catch((e: Error) => e.message);
        plan.push({ id: 'id' in c ? c.id : undefined, title: c.title, action: describeAction(c.action!), wouldSkip: why });
      }
      if (values.json) io.out(JSON.stringify({ dryRun: true, plan, manual: recs.filter((r) => !r.automatic).map((r) => ({ id: r.id, title: r.title })) }, null, 2));
      else {
        if (plan.length === 0) io.out('nothing to apply automatically');
        for (const p of plan) io.out(`${p.wouldSkip ? 'skip' : 'would apply'}  ${p.action}${p.id ? `  [${p.id}]` : ''}${p.wouldSkip ? `\n      ${p.wouldSkip}` : ''}`);
        const m = recs.filter((r) => !r.automatic).length;
        if (m) io.out(`${m} more recommendation${m === 1 ? ' needs' : 's need'} a person (solemate-perf analyze)`);
        io.out('dry run: add --apply to apply, measure and keep or roll back');
      }
      return 0;
    }
    const results = await service.applyOptimizations(chosen);
    const { successRate } = await service.history();
    if (values.json) io.out(JSON.stringify({ results, successRate }, null, 2));
    else {
      if (results.length === 0) io.out('nothing to apply automatically');
      for (const r of results) io.out(line(r));
      if (successRate.rate !== undefined) io.out(`success rate: ${successRate.kept} kept of ${successRate.applied} applied (${(successRate.rate * 100).toFixed(0)}%)`);
    }
    return results.some((r) => r.state === 'failed') ? 1 : 0;
  } finally {
    await close();
  }
}

export default { build, run } satisfies Command;
