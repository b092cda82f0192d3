// N+1 queries: statements repeated many times inside one request (kept traces). One finding per
// route, with a row per repeated statement (an order history that loads each order's items, then
// each item's product, repeats two), ranked by the queries it adds per second across the route's
// traffic.
import { entryRoute } from '../query/traces.js';
import type { Analyzer } from './types.js';

interface Repeated {
  statement: string;
  /** kept traces of the route that repeat it */
  traces: number;
  maxRepeats: number;
  totalMs: number;
  runs: number;
}

export const nPlusOne: Analyzer<{ repeats: number }> = {
  meta: { id: 'n-plus-one', title: 'N+1 queries', description: 'The same query run again and again inside one request, where one query (a join or IN list) would do.', requires: ['traces', 'routes'] },
  defaults: { repeats: { value: 5, source: "Sentry's N+1 query detector (5 repeated spans with the same fingerprint)" } },
  async analyze(inputs, o) {
    const traces = inputs.traces!;
    if (traces.length === 0) return { notApplicable: 'no traces in the window (is tracing on?)' };
    const rps = new Map(inputs.routes!.map((r) => [`${r.method} ${r.route}`, r.requestsPerSecond]));
    const byRoute = new Map<string, { route: string; method: string; traces: number; statements: Map<string, Repeated> }>();
    for (const t of traces) {
      const entry = entryRoute(t);
      const route = entry.route || '(unknown)';
      const repeated = t.database.repeated.filter((r) => r.count >= o.repeats);
      if (repeated.length === 0) continue;
      const key = `${entry.method} ${route}`;
      const e = byRoute.get(key) ?? { route, method: entry.method, traces: 0, statements: new Map<string, Repeated>() };
      e.traces++;
      for (const r of repeated) {
        const s = e.statements.get(r.statement) ?? { statement: r.statement, traces: 0, maxRepeats: 0, totalMs: 0, runs: 0 };
        s.traces++;
        s.maxRepeats = Math.max(s.maxRepeats, r.count);
        s.totalMs += r.totalMs;
        s.runs += r.count;
        e.statements.set(r.statement, s);
      }
      byRoute.set(key, e);
    }
    return [...byRoute.values()]
      .map((e) => {
        const statements = [...e.statements.values()].map((s) => ({ ...s, perRequest: s.runs / s.traces })).sort((a, b) => b.perRequest - a.perRequest);
        const perRequest = statements.reduce((sum, s) => sum + s.perRequest, 0);
        const routeRps = rps.get(`${e.method} ${e.route}`) ?? 0;
        // each repeated statement could be one query: the rest of its runs are saved
        const extraPerSecond = statements.reduce((sum, s) => sum + (s.perRequest - 1), 0) * routeRps;
        return { e, statements, perRequest, routeRps, extraPerSecond };
      })
      .sort((a, b) => b.extraPerSecond - a.extraPerSecond || b.perRequest - a.perRequest)
      .map(({ e, statements, perRequest, routeRps, extraPerSecond }) => {
        const counts = statements.map((s) => `${Math.round(s.perRequest)}×`).join(' + ');
        return {
          severity: perRequest >= 4 * o.repeats ? 'critical' : 'warning',
          title: statements.length === 1 ? `${e.method} ${e.route} runs one query ${counts} per request` : `${e.method} ${e.route} repeats ${statements.length} queries per request (${counts})`,
          // the route is the problem (one recommendation, one id across runs); the statements are the evidence
          target: { route: e.route, method: e.method },
          evidence: {
            headings: [
              { key: 'statement', label: 'statement' },
              { key: 'perRequest', label: 'runs per request' },
              { key: 'max', label: 'most in one request' },
              { key: 'ms', label: 'time per request (ms)' },
              { key: 'traces', label: 'traces' },
            ],
            rows: statements.map((s) => ({ statement: s.statement, perRequest: Number(s.perRequest.toFixed(1)), max: s.maxRepeats, ms: Number((s.totalMs / s.traces).toFixed(1)), traces: s.traces })),
          },
          impact: {
            metric: 'queries saved',
            estimate: Number(extraPerSecond.toFixed(1)),
            unit: 'queries/s',
            derivedFrom: `${statements.map((s) => `(${s.perRequest.toFixed(1)} − 1)`).join(' + ')} runs per request saved × the route's ${routeRps.toFixed(2)} requests/s, from ${e.traces} kept traces`,
          },
        };
      });
  },
};
