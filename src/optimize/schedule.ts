// The server's scheduled optimizer (optimization.enabled + autoOptimize): every
// optimizationInterval it analyzes the last `window`, and sends each automatic recommendation through
// the workflow (measured, kept or rolled back). validationRequired: false is refused — nothing is
// applied without its before/after proof. Replicas share the optimizer lock, so one runs at a time.
import type { PerformanceConfig } from '../config/schema.js';
import { PerfError } from '../errors.js';
import { loadScenario } from '../loadtest/scenario.js';
import { checkTarget } from '../loadtest/targets.js';
import { parseDuration } from '../query/filters.js';
import type { QueryEngine } from '../query/engine.js';
import type { Store } from '../store/store.js';
import { OptimizationService } from './service.js';
import type { OptimizationRecord } from './tracking.js';

export interface OptimizerSchedule {
  /** one run now (also what the timer does); undefined when a run is still going */
  runOnce(): Promise<OptimizationRecord[] | undefined>;
  stop(): void;
}

/** optimization.databaseUrl: a URL, or `env:NAME` for the environment variable holding one. */
export function optimizationDatabaseUrl(config: PerformanceConfig, env: NodeJS.ProcessEnv): string | undefined {
  const u = config.optimization.databaseUrl;
  return u?.startsWith('env:') ? env[u.slice(4)] : u;
}

/** The service options from the config, or why the schedule cannot run. */
export function scheduledOptions(config: PerformanceConfig, env: NodeJS.ProcessEnv) {
  const o = config.optimization;
  if (!o.target || !o.scenario) throw new PerfError('PERF_ERR_CONFIG', 'optimization.autoOptimize needs optimization.target (the service URL) and optimization.scenario (a scenario file to measure with)');
  if (!o.validationRequired) throw new PerfError('PERF_ERR_CONFIG', 'optimization.validationRequired: false is not supported: every change is measured before it is kept');
  const databaseUrl = optimizationDatabaseUrl(config, env);
  if (o.databaseUrl?.startsWith('env:') && !databaseUrl) throw new PerfError('PERF_ERR_CONFIG', `optimization.databaseUrl: environment variable ${o.databaseUrl.slice(4)} is not set`);
  return { target: checkTarget(o.target, config.loadtest.allowedHosts).toString().replace(/\/$/, ''), scenario: loadScenario(o.scenario), databaseUrl, windowMs: parseDuration(o.window), analyzerOptions: o.analyzers, measure: o.measure };
}

export function startOptimizerSchedule(opts: { config: PerformanceConfig; env: NodeJS.ProcessEnv; store: Store; engine: QueryEngine; log: (level: 'info' | 'error', m: string) => void }): OptimizerSchedule {
  const base = scheduledOptions(opts.config, opts.env);
  let running = false;
  const runOnce = async () => {
    if (running) return undefined;
    running = true;
    const service = new OptimizationService({ ...base, store: opts.store, engine: opts.engine, log: (m) => opts.log('info', `optimizer: ${m}`) });
    try {
      const recs = (await service.getOptimizationRecommendations()).filter((r) => r.automatic);
      const done = recs.length ? await service.applyOptimizations(recs) : [];
      opts.log('info', `optimizer: ${done.length} change(s): ${done.map((r) => `${r.title} → ${r.state}`).join('; ') || 'nothing to apply'}`);
      return done;
    } finally {
      await service.close().catch(() => {});
      running = false;
    }
  };
  const timer = setInterval(() => runOnce().catch((e) => opts.log('error', `optimizer: ${(e as Error).message}`)), opts.config.optimization.optimizationInterval);
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
