// N+1 queries: one statement repeated many times inside one request (kept traces). Ranked by the
// queries it adds per second across the route's traffic.
import { entryRoute } from '../query/traces.js';
import type { Analyzer } from './types.js';

export const nPlusOne: Analyzer<{ repeats: number }> = {
  meta: { id: 'n-plus-one', title: 'N+1 queries', description: 'The same query run again and again inside one request, where one query (a join or IN list) would do.', requires: ['traces', 'routes'] },
  defaults: { repeats: { value: 5, source: "Sentry's N+1 query detector (5 repeated spans with the same fingerprint)" } },
  async analyze(inputs, o) {
    const traces = inputs.traces!;
    if (traces.length === 0) return { notApplicable: 'no traces in the window (is tracing on?)' };
    const rps = new Map(inputs.routes!.map((r) => [`${r.method} ${r.route}`, r.requestsPerSecond]));
    const byKey = new Map<string, { route: string; method: string; statement: string; traces: number; maxRepeats: number; totalMs: number; requests: number }>();
    for (const t of traces) {
      const entry = entryRoute(t);
      const route = entry.route || '(unknown)';
      const method = entry.method;
      for (const r of t.database.repeated) {
        if (r.count < o.repeats) continue;
        const key = `${method} ${route}\u0000${r.statement}`;
        const e = byKey.get(key) ?? { route, method, statement: r.statement, traces: 0, maxRepeats: 0, totalMs: 0, requests: 0 };
        e.traces++;
        e.maxRepeats = Math.max(e.maxRepeats, r.count);
        e.totalMs += r.totalMs;
        e.requests += r.count;
        byKey.set(key, e);
      }
    }
    return [...byKey.values()]
      .map((e) => {
        const perRequest = e.requests / e.traces;
        const extraPerSecond = (perRequest - 1) * (rps.get(`${e.method} ${e.route}`) ?? 0);
        return { e, perRequest, extraPerSecond };
      })
      .sort((a, b) => b.extraPerSecond - a.extraPerSecond || b.perRequest - a.perRequest)
      .map(({ e, perRequest, extraPerSecond }) => ({
        severity: perRequest >= 4 * o.repeats ? 'critical' : 'warning',
        title: `${e.method} ${e.route} runs one query ${Math.round(perRequest)}× per request`,
        target: { route: e.route, method: e.method, statement: e.statement },
        evidence: {
          headings: [
            { key: 'statement', label: 'statement' },
            { key: 'perRequest', label: 'runs per request' },
            { key: 'max', label: 'most in one request' },
            { key: 'ms', label: 'time per request (ms)' },
            { key: 'traces', label: 'traces' },
          ],
          rows: [{ statement: e.statement, perRequest: Number(perRequest.toFixed(1)), max: e.maxRepeats, ms: Number((e.totalMs / e.traces).toFixed(1)), traces: e.traces }],
        },
        impact: { metric: 'queries saved', estimate: Number(extraPerSecond.toFixed(1)), unit: 'queries/s', derivedFrom: `(${perRequest.toFixed(1)} runs per request − 1) × the route's ${(rps.get(`${e.method} ${e.route}`) ?? 0).toFixed(2)} requests/s, from ${e.traces} kept traces` },
      }));
  },
};
