// What analyze, optimize and optimizations share: the store, the query engine, the service's
// database and page, and (to apply) its URL and a scenario to measure with.
import { loadConfig } from '../../config/load.js';
import type { PerformanceConfigInput } from '../../config/schema.js';
import { PerfError } from '../../errors.js';
import { loadScenario } from '../../loadtest/scenario.js';
import { checkTarget } from '../../loadtest/targets.js';
import { parseDuration } from '../../query/filters.js';
import { QueryEngine } from '../../query/engine.js';
import { openStore } from '../../store/open.js';
import { OptimizationService } from '../../optimize/service.js';
import type { Io } from '../command.js';

export const OPTIMIZER_OPTIONS = { window: { type: 'string', short: 'w' }, data: { type: 'string' }, config: { type: 'string' }, 'database-url': { type: 'string' }, site: { type: 'string' }, 'allow-host': { type: 'string', multiple: true } } as const;
export const OPTIMIZER_HELP = {
  window: 'how far back to look (default 15m)',
  data: 'SQLite file of the embedded store (default .data/solemate-perf.db)',
  config: 'config file (the store to read)',
  'database-url': "the service's PostgreSQL, for the database analyzers and index actions (default $DATABASE_URL)",
  site: 'a page of the service (e.g. http://127.0.0.1:3000/), for the front-end analyzers; loopback unless allowed',
  'allow-host': 'also reach this non-loopback host',
};

export async function openOptimizer(values: Record<string, unknown>, io: Io, log?: (m: string) => void) {
  let windowMs: number;
  try {
    windowMs = parseDuration(String(values.window ?? '15m'));
  } catch (e) {
    throw new PerfError('PERF_ERR_USAGE', `--window: ${(e as Error).message}`);
  }
  const overrides: PerformanceConfigInput = values.data ? { store: { path: String(values.data) } } : {};
  const config = loadConfig({ file: values.config as string | undefined, env: io.env, overrides });
  const allowed = [...config.loadtest.allowedHosts, ...((values['allow-host'] as string[] | undefined) ?? [])];
  const site = values.site === undefined ? undefined : checkTarget(String(values.site), allowed).toString();
  const scenario = values.scenario === undefined ? undefined : loadScenario(String(values.scenario));
  const targetText = (values.target as string | undefined) ?? scenario?.target;
  const target = targetText === undefined ? undefined : checkTarget(targetText, allowed).toString().replace(/\/$/, '');
  const num = (name: string, min: number, max: number) => {
    if (values[name] === undefined) return undefined;
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min || n > max) throw new PerfError('PERF_ERR_USAGE', `--${name} must be a number from ${min} to ${max}`);
    return n;
  };
  const store = await openStore(config);
  const service = new OptimizationService({
    store,
    engine: new QueryEngine(store, config),
    windowMs,
    databaseUrl: (values['database-url'] as string | undefined) ?? io.env.DATABASE_URL,
    site,
    target,
    scenario,
    analyzerOptions: config.optimization.analyzers,
    measure: { seconds: num('seconds', 1, 600), rounds: num('rounds', 1, 20), rate: num('rate', 1, 100_000), connections: num('connections', 1, 1000) },
    log,
  });
  return {
    config,
    service,
    close: async () => {
      await service.close();
      await store.close();
    },
  };
}
