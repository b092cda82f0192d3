// Runs analyzers: gives each only the inputs it declared (collected once, on demand), turns an
// exception into an error result, and ranks the findings.
import type { QueryEngine } from '../query/engine.js';
import { PerfError } from '../errors.js';
import { traceTree, type TraceDetail } from '../query/traces.js';
import type { Store } from '../store/store.js';
import { CACHE_REQUESTS, DB_CONNECTION_COUNT, DB_CONNECTION_PENDING, DB_CONNECTION_WAIT, EVENT_LOOP_DELAY, HEAP_LIMIT, HEAP_USED, HTTP_SERVER_DURATION, PROCESS_CPU_UTILIZATION } from '../semconv.js';
import type { Aggregation } from '../alerts/rules.js';
import { CycleReads, evaluateExpr } from '../alerts/expr.js';
import { nPlusOne } from './n-plus-one.js';
import { slowRoutes } from './slow-routes.js';
import { slowQueries } from './slow-queries.js';
import { missingIndex } from './missing-index.js';
import { compression } from './compression.js';
import { cacheHeaders } from './cache-headers.js';
import { images } from './images.js';
import { bundle } from './bundle.js';
import { cacheableRoutes } from './cacheable-routes.js';
import { eventLoop } from './event-loop.js';
import { memoryGrowth } from './memory-growth.js';
import { cpuSaturation } from './cpu-saturation.js';
import { poolSaturation } from './pool-saturation.js';
import { unusedIndexes } from './unused-indexes.js';
import { readReplicas } from './read-replicas.js';
import { partitioning } from './partitioning.js';
import { cacheHitRatio } from './cache-hit-ratio.js';
import { lighthouseAudits } from './lighthouse.js';
import type { Analyzer, AnalyzerResult, InputName, Inputs, RouteStats, RuntimeStats } from './types.js';

const all = [slowRoutes, nPlusOne, cacheableRoutes, slowQueries, missingIndex, unusedIndexes, partitioning, readReplicas, poolSaturation, cacheHitRatio, eventLoop, memoryGrowth, cpuSaturation, lighthouseAudits, compression, cacheHeaders, images, bundle];
export const ANALYZERS: Analyzer[] = all as unknown as Analyzer[];

/** Checks analyzer option overrides against the analyzers' defaults (ids, names, types). */
export function checkOverrides(overrides: Record<string, Record<string, unknown>>, analyzers: Analyzer[] = ANALYZERS): void {
  for (const [id, opts] of Object.entries(overrides)) {
    const a = analyzers.find((x) => x.meta.id === id);
    if (!a) throw new PerfError('PERF_ERR_CONFIG', `optimization.analyzers.${id}: no such analyzer (known: ${analyzers.map((x) => x.meta.id).join(', ')})`);
    for (const [k, v] of Object.entries(opts)) {
      const d = (a.defaults as Record<string, { value: unknown }>)[k];
      if (!d) throw new PerfError('PERF_ERR_CONFIG', `optimization.analyzers.${id}.${k}: no such option (known: ${Object.keys(a.defaults).join(', ')})`);
      if (typeof v !== typeof d.value) throw new PerfError('PERF_ERR_CONFIG', `optimization.analyzers.${id}.${k}: must be a ${typeof d.value}`);
    }
  }
}

export type Collector = { [K in InputName]: () => Promise<Inputs[K]> };

export async function runAnalyzers(collect: Partial<Collector>, options: { analyzers?: Analyzer[]; overrides?: Record<string, Record<string, unknown>> } = {}): Promise<AnalyzerResult[]> {
  const cache = new Map<InputName, Promise<unknown>>();
  const input = (name: InputName) => {
    let p = cache.get(name);
    if (!p) {
      const c = collect[name];
      p = c ? c() : Promise.reject(new Error(`input ${name} is not available here`));
      cache.set(name, p);
    }
    return p;
  };
  const results: AnalyzerResult[] = [];
  for (const a of options.analyzers ?? ANALYZERS) {
    const started = performance.now();
    const opts = { ...Object.fromEntries(Object.entries(a.defaults).map(([k, v]) => [k, v.value])), ...options.overrides?.[a.meta.id] };
    const base = { id: a.meta.id, title: a.meta.title, options: opts };
    const missing = a.meta.requires.filter((n) => !collect[n]);
    if (missing.length) {
      results.push({ ...base, status: 'not_applicable', findings: [], reason: `needs ${missing.join(', ')} (${missing.includes('postgres') || missing.includes('database') ? 'give a database URL' : missing.includes('site') && collect.lighthouse ? "the site's stored Lighthouse run is read instead (the lighthouse analyzer)" : missing.includes('site') ? 'give the site URL' : missing.includes('lighthouse') ? 'no Lighthouse run of the site stored: solemate-perf lighthouse <site> --server <this server>' : 'not collected'})`, durationMs: 0 });
      continue;
    }
    try {
      const inputs: Partial<Inputs> = {};
      for (const n of a.meta.requires) (inputs as Record<string, unknown>)[n] = await input(n);
      const out = await a.analyze(inputs, opts);
      if ('notApplicable' in out) results.push({ ...base, status: 'not_applicable', findings: [], reason: out.notApplicable, durationMs: performance.now() - started });
      else results.push({ ...base, status: out.length ? 'findings' : 'pass', findings: out, durationMs: performance.now() - started });
    } catch (e) {
      results.push({ ...base, status: 'error', findings: [], reason: (e as Error).message, durationMs: performance.now() - started });
    }
  }
  return results;
}

/** The store-backed inputs: routes and traces over the window ending now. */
export function storeCollector(engine: QueryEngine, store: Store, windowMs: number, now = Date.now()): Pick<Collector, 'routes' | 'traces' | 'runtime'> {
  return {
    runtime: async (): Promise<RuntimeStats> => {
      const reads = new CycleReads(engine, now);
      const ev = (metric: string, aggregation: Aggregation, by: string[], tags?: Record<string, string>) =>
        evaluateExpr(reads, { metric, aggregation, window: `${windowMs / 1000}s`, filters: tags ? { tags } : {}, by, op: '>', threshold: 0 }, windowMs).then((xs) => new Map(xs.map((x) => [JSON.stringify(x.labels), x.value])));
      const svc = (service: string) => JSON.stringify({ service });
      const [requests, instances, loop, cpuAvg, cpuMax, limit] = await Promise.all([
        ev(HTTP_SERVER_DURATION, 'count', ['service']),
        evaluateExpr(reads, { metric: HTTP_SERVER_DURATION, aggregation: 'count', window: `${windowMs / 1000}s`, filters: {}, by: ['service', 'instance'], op: '>', threshold: 0 }, windowMs),
        ev(EVENT_LOOP_DELAY, 'max', ['service'], { quantile: 'p99' }),
        ev(PROCESS_CPU_UTILIZATION, 'avg', ['service']),
        ev(PROCESS_CPU_UTILIZATION, 'max', ['service']),
        ev(HEAP_LIMIT, 'last', ['service']),
      ]);
      const names = new Set([...requests.keys(), ...loop.keys(), ...cpuAvg.keys()].map((k) => (JSON.parse(k) as { service: string }).service));
      const services: RuntimeStats['services'] = [];
      for (const service of names) {
        const heap = await engine.getPerformanceTrends(HEAP_USED, `${Math.max(1, Math.round(windowMs / 60_000))}m`, { statistic: 'avg', filters: { service }, higherIsBetter: false }).catch(() => undefined);
        services.push({
          service,
          instances: Math.max(1, instances.filter((x) => x.labels.service === service).length),
          requestsPerSecond: (requests.get(svc(service)) ?? 0) / (windowMs / 1000),
          eventLoopP99Ms: loop.get(svc(service)), // evaluateExpr gives durations in ms
          cpuAvg: cpuAvg.get(svc(service)),
          cpuMax: cpuMax.get(svc(service)),
          heapLimitBytes: limit.get(svc(service)),
          heap,
        });
      }
      const poolKey = ['service', 'db.client.connection.pool.name'];
      const [wait, pending, used] = await Promise.all([ev(DB_CONNECTION_WAIT, 'p95', poolKey), ev(DB_CONNECTION_PENDING, 'max', poolKey), ev(DB_CONNECTION_COUNT, 'max', poolKey, { 'db.client.connection.state': 'used' })]);
      const pools = [...wait.keys()].map((k) => {
        const l = JSON.parse(k) as Record<string, string>;
        return { service: l.service, pool: l['db.client.connection.pool.name'], waitP95Ms: wait.get(k) ?? 0, pendingMax: pending.get(k) ?? 0, usedMax: used.get(k) ?? 0 };
      });
      const lookups = await ev(CACHE_REQUESTS, 'count', ['service', 'cache.prefix', 'cache.result']);
      const caches = new Map<string, RuntimeStats['caches'][number]>();
      for (const [k, n] of lookups) {
        const l = JSON.parse(k) as Record<string, string>;
        const c = caches.get(l.service + l['cache.prefix']) ?? { service: l.service, prefix: l['cache.prefix'], hits: 0, misses: 0 };
        if (l['cache.result'] === 'hit') c.hits += n;
        else if (l['cache.result'] === 'miss') c.misses += n;
        caches.set(l.service + l['cache.prefix'], c);
      }
      let capacity: RuntimeStats['capacity'];
      for (const run of await store.listRuns({ profile: 'stress', limit: 5 })) {
        const fit = (await store.getRun(run.id))?.result.capacity as { peakThroughput: number; peakConcurrency: number; derivedFrom: string } | undefined;
        if (fit && Number.isFinite(fit.peakThroughput)) {
          capacity = { runId: run.id, scenario: run.scenario, peakThroughput: fit.peakThroughput, peakConcurrency: fit.peakConcurrency, derivedFrom: fit.derivedFrom };
          break;
        }
      }
      return { services, pools, caches: [...caches.values()], capacity };
    },
    routes: async () => {
      // the alert conditions' evaluation, grouped by method and route: one read serves all four
      const reads = new CycleReads(engine, now);
      const by = (aggregation: 'count' | 'avg' | 'p95' | 'error_ratio') =>
        evaluateExpr(reads, { metric: HTTP_SERVER_DURATION, aggregation, window: `${windowMs / 1000}s`, filters: {}, by: ['method', 'route'], op: '>', threshold: 0 }, windowMs).then((xs) => new Map(xs.map((x) => [JSON.stringify(x.labels), x.value])));
      const [count, avg, p95, errors] = await Promise.all([by('count'), by('avg'), by('p95'), by('error_ratio')]);
      let totalMs = 0;
      for (const [k, n] of count) totalMs += n * (avg.get(k) ?? 0);
      return [...count].map(([k, n]): RouteStats => {
        const { method, route } = JSON.parse(k) as { method: string; route: string };
        return { route: route || '(unmatched)', method: method || 'GET', requests: n, requestsPerSecond: n / (windowMs / 1000), avgMs: avg.get(k) ?? 0, p95Ms: p95.get(k) ?? 0, timeShare: totalMs > 0 ? (n * (avg.get(k) ?? 0)) / totalMs : 0, errorRatio: errors.get(k) ?? 0 };
      });
    },
    traces: async () => {
      const list = await store.listTraces({ from: now - windowMs, to: now + 1, limit: 200 });
      const out: TraceDetail[] = [];
      for (const t of list) {
        const tree = traceTree(await store.getTrace(t.traceId));
        if (tree) out.push(tree);
      }
      return out;
    },
  };
}
