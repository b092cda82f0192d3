// Cacheable hot read routes: GET routes that take a large share of server time, are slow enough for
// a cache to matter, and whose kept traces only read (no INSERT/UPDATE/DELETE, no errors). The
// finding names the tables the route reads and the write routes seen changing those tables: they
// empty the cache (with the TTL as the bound on staleness for writes nobody traced).
import { entryRoute, spansOf, type TraceDetail } from '../query/traces.js';
import type { Analyzer } from './types.js';

const WRITE = /^(INSERT|UPDATE|DELETE|MERGE|TRUNCATE)$/i;

export const cacheableRoutes: Analyzer<{ minShare: number; minAvgMs: number; minRequests: number; ttlMs: number }> = {
  meta: { id: 'cacheable-routes', title: 'Cacheable hot read routes', description: 'GET routes with a large share of server time whose traces only read: a response cache (emptied by the writes seen to the same tables) would serve them.', requires: ['routes', 'traces'] },
  defaults: {
    minShare: { value: 0.05, source: 'a twentieth of all server time: below that a cache saves little and adds staleness' },
    minAvgMs: { value: 20, source: 'a tenth of the PRD 200 ms response budget: faster routes gain little from a cache' },
    minRequests: { value: 20, source: 'fewer requests make a hot route that one burst decides' },
    ttlMs: { value: 60_000, source: 'a minute bounds how stale a response can be when a write changes its data outside the traced routes' },
  },
  async analyze(inputs, o) {
    const traces = inputs.traces!;
    if (traces.length === 0) return { notApplicable: 'no traces in the window (is tracing on?)' };
    const byRoute = new Map<string, TraceDetail[]>();
    for (const t of traces) {
      const r = entryRoute(t);
      if (!r.route) continue;
      const k = `${r.method} ${r.route}`;
      byRoute.set(k, [...(byRoute.get(k) ?? []), t]);
    }
    // which routes write which tables
    const writers = new Map<string, Set<string>>();
    for (const [k, ts] of byRoute) {
      for (const t of ts) for (const s of spansOf(t)) if (WRITE.test(String(s.attributes['db.operation.name'] ?? '')) && s.attributes['db.collection.name']) writers.set(String(s.attributes['db.collection.name']), (writers.get(String(s.attributes['db.collection.name'])) ?? new Set()).add(k));
    }
    const findings = [];
    for (const r of inputs.routes!) {
      if (r.method !== 'GET' || r.requests < o.minRequests || r.timeShare < o.minShare || r.avgMs < o.minAvgMs || r.errorRatio > 0) continue;
      const ts = byRoute.get(`GET ${r.route}`) ?? [];
      if (ts.length === 0) continue;
      const all = ts.flatMap(spansOf);
      if (ts.some((t) => t.error) || all.some((s) => WRITE.test(String(s.attributes['db.operation.name'] ?? '')))) continue;
      const tables = [...new Set(all.map((s) => s.attributes['db.collection.name']).filter((x): x is string => typeof x === 'string'))].sort();
      const invalidatedBy = [...new Set(tables.flatMap((t) => [...(writers.get(t) ?? [])]))].sort();
      const dbShare = ts.reduce((s, t) => s + t.database.timeMs, 0) / Math.max(1, ts.reduce((s, t) => s + t.duration, 0));
      findings.push({
        severity: (r.timeShare >= 0.2 ? 'critical' : 'warning') as 'critical' | 'warning',
        title: `cache GET ${r.route}: ${Math.round(r.avgMs)} ms average, ${(r.timeShare * 100).toFixed(0)}% of server time, reads only`,
        target: { route: r.route, method: 'GET', tables: tables.join(','), invalidatedBy: invalidatedBy.join(','), ttlMs: String(o.ttlMs) },
        evidence: {
          headings: [
            { key: 'rps', label: 'requests/s' },
            { key: 'avg', label: 'average (ms)' },
            { key: 'p95', label: 'p95 (ms)' },
            { key: 'db', label: 'database share' },
            { key: 'tables', label: 'tables read' },
            { key: 'writers', label: 'writes seen to them' },
          ],
          rows: [{ rps: Number(r.requestsPerSecond.toFixed(2)), avg: Math.round(r.avgMs), p95: Math.round(r.p95Ms), db: `${(dbShare * 100).toFixed(0)}%`, tables: tables.join(', ') || '—', writers: invalidatedBy.join(', ') || 'none traced' }],
        },
        impact: { metric: 'server time', estimate: Number((r.timeShare * 100).toFixed(1)), unit: '%', derivedFrom: `the route's ${r.requests} requests × ${Math.round(r.avgMs)} ms of all routes' request time in the window (the saving is this share × the hit ratio the cache reaches); reads only in ${ts.length} kept traces` },
      });
    }
    return findings.sort((a, b) => b.impact.estimate - a.impact.estimate);
  },
};
