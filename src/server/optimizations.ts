// /api/optimizations: the tracked optimizations and their success rate, the settings the app's
// middleware polls, and — for the dashboard — the current recommendations, a pre-check, applying one
// (measured, kept or rolled back, in the background; one the analysis leaves to a person only when
// the request approves it) and rolling a kept one back. Applying needs
// optimization.target and optimization.scenario in the server's config (what to measure with).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PerformanceConfig } from '../config/schema.js';
import { PerfError } from '../errors.js';
import { OptimizationService } from '../optimize/service.js';
import { optimizationDatabaseUrl, scheduledOptions } from '../optimize/schedule.js';
import { readSettings } from '../optimize/settings.js';
import type { OptimizationRecommendation } from '../optimize/recommendations.js';
import { getOptimization, listOptimizations, successRate } from '../optimize/tracking.js';
import { parseDuration } from '../query/filters.js';
import type { QueryEngine } from '../query/engine.js';
import type { Store } from '../store/store.js';
import type { EventHub } from './events.js';

/** A recommendation as listed: `appliedBy` when a kept optimization already applied it. */
export type ListedRecommendation = OptimizationRecommendation & { appliedBy?: string };

/** Recommendations are re-analyzed at most this often (the analyzers read the store and the database). */
const ANALYSIS_TTL_MS = 30_000;

interface Options {
  store: Store;
  engine: QueryEngine;
  config: PerformanceConfig;
  env: NodeJS.ProcessEnv;
  hub: EventHub;
  log: (m: string) => void;
}

export async function optimizationRoutes(app: FastifyInstance, opts: Options): Promise<void> {
  const { store, engine, config, env, hub } = opts;
  const databaseUrl = optimizationDatabaseUrl(config, env);
  const service = (withTarget: boolean) =>
    new OptimizationService({
      ...(withTarget ? applyOptions() : { databaseUrl, analyzerOptions: config.optimization.analyzers, windowMs: parseDuration(config.optimization.window) }),
      store,
      engine,
      log: (m) => {
        opts.log(m);
        hub.publish({ type: 'optimization', id: '', state: m });
      },
    });
  // what to measure with, read once (the scenario file too), as the scheduled optimizer does;
  // GET /api/optimizations says whether it can, on every live refresh
  let measuring: { options: ReturnType<typeof scheduledOptions> } | { error: PerfError } | undefined;
  const applyOptions = () => {
    measuring ??= (() => {
      if (!config.optimization.target || !config.optimization.scenario) return { error: new PerfError('PERF_ERR_CONFLICT', "applying needs optimization.target (the service's URL) and optimization.scenario (a scenario file to measure with) in the server's config") };
      try {
        return { options: scheduledOptions(config, env) };
      } catch (e) {
        return { error: new PerfError('PERF_ERR_CONFLICT', `applying from here needs the server's config to say what to measure: ${(e as Error).message}`) };
      }
    })();
    if ('error' in measuring) throw measuring.error;
    return measuring.options;
  };

  let analysis: { at: number; recs: OptimizationRecommendation[]; analyzers: unknown[] } | undefined;
  let analyzing: Promise<NonNullable<typeof analysis>> | undefined;
  const analyze = (fresh: boolean) => {
    if (!fresh && analysis && Date.now() - analysis.at < ANALYSIS_TTL_MS) return Promise.resolve(analysis);
    analyzing ??= (async () => {
      const s = service(false);
      try {
        const a = await s.analyzePerformance();
        const recs = await s.getOptimizationRecommendations();
        analysis = { at: Date.now(), recs, analyzers: a.results.map((r) => ({ id: r.id, title: r.title, status: r.status, findings: r.findings.length, reason: r.reason, durationMs: r.durationMs })) };
        return analysis;
      } finally {
        analyzing = undefined;
        await s.close().catch(() => {});
      }
    })();
    return analyzing;
  };
  /** The current recommendation the body names; one the analysis left to a person needs `approve: true` to be applied. */
  const recommendation = async (body: unknown, applying: boolean) => {
    const b = (body ?? {}) as { recommendation?: unknown; approve?: unknown };
    const id = b.recommendation;
    if (typeof id !== 'string' || !id) throw new PerfError('PERF_ERR_BAD_REQUEST', 'recommendation: the id of a recommendation is required (GET /api/optimizations/recommendations)');
    if (b.approve !== undefined && typeof b.approve !== 'boolean') throw new PerfError('PERF_ERR_BAD_REQUEST', 'approve: true or false');
    const r = (await analyze(false)).recs.find((x) => x.id === id);
    if (!r) throw new PerfError('PERF_ERR_NOT_FOUND', `no current recommendation ${id}; the data may have changed (reload the recommendations)`);
    if (!r.action) throw new PerfError('PERF_ERR_BAD_REQUEST', `${id} has no action to apply; it is a change to make by hand: ${r.description}`);
    if (applying && !r.automatic && b.approve !== true) throw new PerfError('PERF_ERR_BAD_REQUEST', `approve: ${id} is a person's call, applied only with approve: true — ${r.description}`);
    return r;
  };

  app.get('/api/optimizations', async () => {
    const optimizations = await listOptimizations(store);
    return { optimizations, successRate: successRate(optimizations), running: running?.title ?? null, canApply: canApply() };
  });

  app.get('/api/optimizations/settings', async () => readSettings(store));

  app.get('/api/optimizations/recommendations', async (req: FastifyRequest<{ Querystring: { fresh?: string } }>) => {
    const a = await analyze(req.query.fresh === 'true');
    // the window may still show what a kept optimization has since changed: say so
    const kept = new Map((await listOptimizations(store)).filter((o) => o.state === 'kept' && o.recommendationId).map((o) => [o.recommendationId!, o.id]));
    const recommendations: ListedRecommendation[] = a.recs.map((r) => (kept.has(r.id) ? { ...r, appliedBy: kept.get(r.id) } : r));
    return { analyzedAt: new Date(a.at).toISOString(), windowMs: parseDuration(config.optimization.window), recommendations, analyzers: a.analyzers };
  });

  app.post('/api/optimizations/precheck', async (req) => {
    const r = await recommendation(req.body, false);
    const s = service(false);
    try {
      const reason = await s.precheck(r.action!);
      return { recommendation: r.id, ok: reason === undefined, reason: reason ?? null };
    } finally {
      await s.close().catch(() => {});
    }
  });

  let running: { title: string } | undefined;
  const canApply = () => {
    try {
      applyOptions();
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
  };

  // applying takes minutes (before/after runs): accepted now, followed on /api/stream and GET /api/optimizations
  app.post('/api/optimizations', async (req, reply) => {
    const r = await recommendation(req.body, true);
    applyOptions();
    if (running) throw new PerfError('PERF_ERR_CONFLICT', `"${running.title}" is being measured; one optimization runs at a time`);
    running = { title: r.title };
    const s = service(true);
    void s
      .applyOptimization(r.automatic ? r : { ...r, approval: 'approved with POST /api/optimizations and approve: true (the dashboard’s Approve and apply)' })
      .then((rec) => hub.publish({ type: 'optimization', id: rec.id, state: rec.state }))
      .catch((e) => {
        opts.log(`applying ${r.id} failed: ${(e as Error).message}`);
        hub.publish({ type: 'optimization', id: '', state: `failed: ${(e as Error).message}` });
      })
      .finally(() => {
        running = undefined;
        analysis = undefined;
        void s.close().catch(() => {});
      });
    return reply.status(202).send({ accepted: r.id, title: r.title, follow: '/api/optimizations' });
  });

  app.post('/api/optimizations/:id/rollback', async (req: FastifyRequest<{ Params: { id: string } }>) => {
    if (running) throw new PerfError('PERF_ERR_CONFLICT', `"${running.title}" is being measured; roll back when it is done`);
    const s = new OptimizationService({ store, engine, windowMs: 0, databaseUrl });
    try {
      const rec = await s.rollbackOptimization(req.params.id);
      hub.publish({ type: 'optimization', id: rec.id, state: rec.state });
      return rec;
    } finally {
      await s.close().catch(() => {});
    }
  });

  app.get('/api/optimizations/:id', async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const r = await getOptimization(store, req.params.id);
    if (!r) throw new PerfError('PERF_ERR_NOT_FOUND', `no optimization ${req.params.id}`);
    return r;
  });
}
