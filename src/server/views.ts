// What the dashboard's pages read beyond the PRD's API: any panel query over a range (or at an
// instant), the per-route table, a route's latency heatmap, the dashboards as code, and a load-test
// run compared with a baseline. All computed from stored rows on each request.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AGGREGATIONS, type Aggregation } from '../alerts/rules.js';
import { evaluateInstant, evaluateRange, stepFor, type PanelQuery } from '../dashboards/evaluate.js';
import { loadDashboards, type Dashboard } from '../dashboards/dashboards.js';
import { PerfError } from '../errors.js';
import { compareLatencies } from '../loadtest/statistics.js';
import type { QueryEngine } from '../query/engine.js';
import { parseDuration, parseTime } from '../query/filters.js';
import { mergeRows } from '../query/metrics.js';
import { toMillis } from '../semconv.js';
import type { Row } from '../store/rows.js';
import type { Store } from '../store/store.js';
import { filtersFrom, page } from './api.js';

type Query = Record<string, string | string[] | undefined>;
const HTTP = 'http.server.request.duration';

function one(q: Query, k: string): string | undefined {
  const v = q[k];
  if (Array.isArray(v)) throw new PerfError('PERF_ERR_QUERY', `${k} may be given once`);
  return v === '' ? undefined : v;
}

function range(q: Query, now: number, fallbackMs = 3_600_000): { from: number; to: number } {
  try {
    const to = parseTime(one(q, 'to'), now, now);
    const from = parseTime(one(q, 'from'), now, to - fallbackMs);
    if (!(from < to)) throw new RangeError('from must be before to');
    if (to - from > 400 * 86_400_000) throw new RangeError('a range covers at most 400 days');
    return { from, to };
  } catch (e) {
    throw new PerfError('PERF_ERR_QUERY', (e as Error).message);
  }
}

function duration(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  try {
    return parseDuration(v);
  } catch (e) {
    throw new PerfError('PERF_ERR_QUERY', `${name}: ${(e as Error).message}`);
  }
}

/** /api/query parameters → a panel query (the filters are the API's usual ones). */
function panelQuery(q: Query): PanelQuery {
  const metric = one(q, 'metric');
  if (!metric) throw new PerfError('PERF_ERR_QUERY', 'metric is required, e.g. /api/query?metric=http.server.request.duration&aggregation=p95');
  const aggregation = (one(q, 'aggregation') ?? 'avg') as Aggregation;
  if (!AGGREGATIONS.includes(aggregation)) throw new PerfError('PERF_ERR_QUERY', `aggregation must be one of ${AGGREGATIONS.join(', ')}`);
  const { from: _f, to: _t, status, ...filters } = filtersFrom(q);
  const by = (one(q, 'by') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { metric, aggregation, window: one(q, 'window') ?? '5m', filters: { ...filters, ...(status === undefined ? {} : { status: String(status) }) }, by };
}

export interface RouteRow {
  route: string;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  errorRatio: number;
  /** this route's share of all time spent serving requests (0–1) */
  timeShare: number;
}

export async function routeTable(engine: QueryEngine, from: number, to: number, filters: PanelQuery['filters'] = {}): Promise<RouteRow[]> {
  const w = to - from;
  const q = (aggregation: Aggregation) => evaluateInstant(engine, { metric: HTTP, aggregation, window: '1m', filters, by: ['route'] }, w, to);
  const [count, avg, p50, p95, p99, errors] = await Promise.all(['count', 'avg', 'p50', 'p95', 'p99', 'error_ratio'].map((a) => q(a as Aggregation)));
  const map = (xs: typeof count) => new Map(xs.map((x) => [x.labels.route, x.value]));
  const [a, m50, m95, m99, e] = [map(avg), map(p50), map(p95), map(p99), map(errors)];
  const total = count.reduce((s, x) => s + x.value * (a.get(x.labels.route) ?? 0), 0);
  return count
    .map((c) => {
      const r = c.labels.route;
      return { route: r || '(unmatched)', requests: c.value, requestsPerSecond: c.value / (w / 1000), p50Ms: m50.get(r) ?? null, p95Ms: m95.get(r) ?? null, p99Ms: m99.get(r) ?? null, errorRatio: e.get(r) ?? 0, timeShare: total > 0 ? (c.value * (a.get(r) ?? 0)) / total : 0 };
    })
    .sort((x, y) => y.timeShare - x.timeShare);
}

/** Latency bins (ms): powers of √2 from 0.25 ms to about 46 s. */
export const HEATMAP_BINS = Array.from({ length: 36 }, (_, i) => 0.25 * Math.SQRT2 ** i);

/** GET /api/routes/heatmap: counts[i][j] = requests of step times[i] in latency bin j (upper bounds in ms) */
export interface HeatmapAnswer {
  step: number;
  bins: number[];
  times: number[];
  counts: number[][];
}

export async function routeHeatmap(engine: QueryEngine, route: string, from: number, to: number): Promise<HeatmapAnswer> {
  const step = stepFor(from, to);
  const series = await engine.series(HTTP, { route });
  const rows = await engine.readRange(series.map((s) => s.id), from, to);
  const factor = series[0] ? toMillis(series[0].unit) : 1;
  const start = Math.floor(from / step) * step;
  const times: number[] = [];
  for (let t = start; t < to; t += step) times.push(t);
  // each row into its step once
  const perStep: Row[][] = times.map(() => []);
  for (const r of rows) perStep[Math.floor((r.t - start) / step)]?.push(r);
  const counts = perStep.map((inStep) => {
    const h = mergeRows(inStep);
    let below = 0;
    return HEATMAP_BINS.map((hi, i) => {
      // the last bin takes everything above
      const at = i === HEATMAP_BINS.length - 1 ? h.count : h.countAtOrBelow(hi / factor);
      const n = at - below;
      below = at;
      return n;
    });
  });
  return { step, bins: HEATMAP_BINS, times, counts };
}

export async function viewRoutes(app: FastifyInstance, opts: { engine: QueryEngine; store: Store; clock: () => number; dashboards: Dashboard[]; pageSize: number }): Promise<void> {
  const { engine, store, clock } = opts;

  app.get('/api/query', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const q = panelQuery(req.query);
    const windowMs = duration(q.window, 'window', 300_000);
    const { from, to } = range(req.query, clock());
    if (one(req.query, 'instant') === 'true') return { at: to, window: q.window, samples: await evaluateInstant(engine, q, to - from, to) };
    const step = one(req.query, 'step');
    return { from, to, window: q.window, ...(await evaluateRange(engine, q, windowMs, from, to, step === undefined ? undefined : duration(step, 'step', 0))) };
  });

  app.get('/api/routes', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { from, to } = range(req.query, clock(), 900_000);
    const { from: _f, to: _t, route: _r, status: _s, ...filters } = filtersFrom(req.query);
    const { items, ...rest } = page(await routeTable(engine, from, to, filters), req.query, opts.pageSize);
    return { from, to, routes: items, ...rest };
  });

  app.get('/api/routes/heatmap', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const route = one(req.query, 'route');
    if (route === undefined) throw new PerfError('PERF_ERR_QUERY', 'route is required (a route template such as /products/:id)');
    const { from, to } = range(req.query, clock());
    return { route, from, to, ...(await routeHeatmap(engine, route, from, to)) };
  });

  app.get('/api/dashboards', async () => ({ dashboards: opts.dashboards }));

  app.get('/api/loadtests/:id/compare', async (req: FastifyRequest<{ Params: { id: string }; Querystring: Query }>) => {
    const baselineId = one(req.query, 'baseline');
    if (!baselineId) throw new PerfError('PERF_ERR_QUERY', 'baseline is required: the id of an earlier run');
    const [run, baseline] = await Promise.all([store.getRun(req.params.id), store.getRun(baselineId)]);
    if (!run) throw new PerfError('PERF_ERR_NOT_FOUND', `no load-test run ${req.params.id}`);
    if (!baseline) throw new PerfError('PERF_ERR_NOT_FOUND', `no load-test run ${baselineId}`);
    if (baseline.samples.length < 2 || run.samples.length < 2) throw new PerfError('PERF_ERR_QUERY', 'both runs need latency samples to compare');
    return { run: run.id, baseline: baseline.id, comparison: compareLatencies(baseline.samples, run.samples) };
  });
}

export { loadDashboards };
