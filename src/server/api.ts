// The query API under /api (documented in docs/api.md and docs/openapi.json): metrics, status,
// trends, series, traces and load-test runs. Read-only; every answer is computed from stored data.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PerfError } from '../errors.js';
import type { PerformanceFilters } from '../query/filters.js';
import type { QueryEngine } from '../query/engine.js';
import type { TrendStatistic } from '../query/trends.js';
import { rumReport } from '../query/rum.js';
import { listTraces, traceTree, type TraceQuery } from '../query/traces.js';
import { WEB_VITALS, type WebVitalName } from '../model/rum.js';
import type { Store } from '../store/store.js';

const STATISTICS: TrendStatistic[] = ['p50', 'p90', 'p95', 'p99', 'avg', 'max', 'rate', 'last'];
const FILTER_KEYS = ['from', 'to', 'service', 'instance', 'route', 'method', 'status'] as const;

type Query = Record<string, string | string[] | undefined>;

/** Query string → filters. Any `tag.<attribute>=<value>` parameter filters on that attribute. */
export function filtersFrom(q: Query): PerformanceFilters {
  const f: PerformanceFilters = {};
  for (const k of FILTER_KEYS) {
    const v = q[k];
    if (Array.isArray(v)) throw new PerfError('PERF_ERR_QUERY', `${k} may be given once`);
    if (v !== undefined && v !== '') f[k] = v;
  }
  for (const [k, v] of Object.entries(q)) {
    if (!k.startsWith('tag.')) continue;
    if (typeof v !== 'string') throw new PerfError('PERF_ERR_QUERY', `${k} may be given once`);
    (f.tags ??= {})[k.slice(4)] = v;
  }
  return f;
}

/**
 * One page of a list answer: `limit` (default limits.pageSize, at most 10×) entries from `offset`,
 * with the total and the offset of the next page (null on the last), so no list grows an answer
 * without bound.
 */
export function page<T>(items: T[], q: Query, pageSize: number): { items: T[]; total: number; offset: number; next: number | null } {
  const int = (k: string, fallback: number, max: number) => {
    const v = q[k];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (typeof v !== 'string' || !Number.isInteger(n) || n < 0 || n > max) throw new PerfError('PERF_ERR_QUERY', `${k} must be a whole number from 0 to ${max}`);
    return n;
  };
  const limit = int('limit', pageSize, pageSize * 10);
  const offset = int('offset', 0, Number.MAX_SAFE_INTEGER);
  const end = offset + limit;
  return { items: items.slice(offset, end), total: items.length, offset, next: end < items.length ? end : null };
}

/** RangeErrors from parsing (times, periods, unknown metrics) become 400s with their message. */
async function asQueryError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RangeError) throw new PerfError('PERF_ERR_QUERY', e.message);
    throw e;
  }
}

export async function apiRoutes(app: FastifyInstance, opts: { engine: QueryEngine; store: Store; pageSize: number }): Promise<void> {
  const { engine, store, pageSize } = opts;

  app.get('/api/traces', async (req: FastifyRequest<{ Querystring: Query }>) => {
    for (const [k, v] of Object.entries(req.query)) if (Array.isArray(v)) throw new PerfError('PERF_ERR_QUERY', `${k} may be given once`);
    return asQueryError(() => listTraces(store, req.query as TraceQuery));
  });

  app.get('/api/loadtests', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { scenario, profile, limit } = req.query;
    if ([scenario, profile, limit].some(Array.isArray)) throw new PerfError('PERF_ERR_QUERY', 'scenario, profile and limit may be given once');
    const n = limit === undefined ? undefined : Number(limit);
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 1000)) throw new PerfError('PERF_ERR_QUERY', 'limit is an integer from 1 to 1000');
    return { runs: await store.listRuns({ scenario: scenario as string | undefined, profile: profile as string | undefined, limit: n }) };
  });

  app.get('/api/loadtests/:id', async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const run = await store.getRun(req.params.id);
    if (!run) throw new PerfError('PERF_ERR_NOT_FOUND', `no load-test run ${req.params.id}`);
    return run;
  });

  app.get('/api/traces/:traceId', async (req: FastifyRequest<{ Params: { traceId: string } }>) => {
    const id = req.params.traceId.toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(id)) throw new PerfError('PERF_ERR_QUERY', 'a trace id is 32 hex digits');
    const tree = traceTree(await store.getTrace(id));
    if (!tree) throw new PerfError('PERF_ERR_NOT_FOUND', `no trace ${id} (traces are kept for store.minuteRetentionHours)`);
    return tree;
  });

  app.get('/api/metrics', async (req: FastifyRequest<{ Querystring: Query }>) => asQueryError(() => engine.getPerformanceMetrics(filtersFrom(req.query))));

  app.get('/api/status', async (req: FastifyRequest<{ Querystring: Query }>) => asQueryError(() => engine.getPerformanceStatus(filtersFrom(req.query))));

  app.get('/api/metrics/names', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { items, ...rest } = page(await engine.listMetrics(), req.query, pageSize);
    return { metrics: items, ...rest };
  });

  app.get('/api/series', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const metric = req.query.metric;
    if (typeof metric !== 'string' || metric === '') throw new PerfError('PERF_ERR_QUERY', 'metric is required, e.g. /api/series?metric=http.server.request.duration');
    const { items, ...rest } = page(await engine.series(metric, filtersFrom(req.query)), req.query, pageSize);
    return { series: items, ...rest };
  });

  // real-user Web Vitals per page and device (POST /v1/rum); default range the last 24 hours
  app.get('/api/rum', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { service, from, to } = filtersFrom(req.query);
    const one = (k: string, allowed?: readonly string[]) => {
      const v = req.query[k];
      if (Array.isArray(v)) throw new PerfError('PERF_ERR_QUERY', `${k} may be given once`);
      if (v === undefined || v === '') return undefined;
      if (allowed && !allowed.includes(v)) throw new PerfError('PERF_ERR_QUERY', `${k} must be one of ${allowed.join(', ')}`);
      return v;
    };
    const vital = one('vital', Object.keys(WEB_VITALS)) as WebVitalName | undefined;
    const device = one('device', ['mobile', 'tablet', 'desktop']);
    return asQueryError(async () => rumReport(engine, { ...engine.window({ from: from ?? '-24h', to }), service, page: one('page'), device, vital }));
  });

  app.get('/api/trends', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { metric, period = '24h', statistic, higherIsBetter } = req.query;
    if (typeof metric !== 'string' || metric === '') throw new PerfError('PERF_ERR_QUERY', 'metric is required, e.g. /api/trends?metric=http.server.request.duration&period=24h');
    if (typeof period !== 'string') throw new PerfError('PERF_ERR_QUERY', 'period may be given once');
    if (statistic !== undefined && !STATISTICS.includes(statistic as TrendStatistic)) {
      throw new PerfError('PERF_ERR_QUERY', `statistic must be one of ${STATISTICS.join(', ')}`);
    }
    if (higherIsBetter !== undefined && higherIsBetter !== 'true' && higherIsBetter !== 'false') throw new PerfError('PERF_ERR_QUERY', 'higherIsBetter must be true or false');
    const { from: _f, to: _t, ...filters } = filtersFrom(req.query);
    return asQueryError(() =>
      engine.getPerformanceTrends(metric, period, {
        statistic: statistic as TrendStatistic | undefined,
        filters,
        higherIsBetter: higherIsBetter === undefined ? undefined : higherIsBetter === 'true',
      }),
    );
  });
}
