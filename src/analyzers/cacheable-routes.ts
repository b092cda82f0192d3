// Cacheable hot read routes: GET routes that take a large share of server time, are slow enough for
// a cache to matter, and whose kept traces only read (no INSERT/UPDATE/DELETE, no errors). The
// finding names the tables the route reads and the write routes seen changing those tables: they
// empty the cache (with the TTL as the bound on staleness for writes nobody traced).
//
// A cache only helps when the same URL comes back before its entry expires or a write empties it.
// The hit ratio is estimated from the kept traces' URL keys (ATTR_URL_KEY, or the OpenTelemetry url.*
// attributes of ingested traces): the chance that two requests ask for the same URL is the share of
// equal pairs among the traces (Σ c(c−1) / n(n−1)); a URL asked for at rate μ and kept for T seconds
// is served from the cache μT times per miss, so the hit ratio is μT / (1 + μT) with μ = the route's
// requests/s × that chance, and T the TTL shortened by the successful writes that empty it (rate w:
// (1 − e^(−wT)) / w, the mean time to the first write or the TTL). The saving is the route's share of
// server time × that ratio. Kept traces lean to the slow requests, which are the misses when the app
// caches something itself: the estimate errs low, towards recommending nothing. When writes empty
// the cache too often for it to matter but entries kept for the whole TTL would, the finding is a
// manual one: a cache whose answers may be a TTL out of date after writes, for a person to accept.
import { ATTR_URL_KEY } from '../semconv.js';
import { entryRoute, spansOf, type TraceDetail } from '../query/traces.js';
import { TTL_JITTER } from '../model/settings.js';
import type { Analyzer } from './types.js';

const WRITE = /^(INSERT|UPDATE|DELETE|MERGE|TRUNCATE)$/i;

/** What a response cache would key the request on, from our URL key or OpenTelemetry's url.* attributes. */
function keyOf(t: TraceDetail): string | undefined {
  const a = t.roots[0]?.attributes ?? {};
  const k = a[ATTR_URL_KEY] ?? a['url.full'] ?? (a['url.path'] !== undefined ? `${a['url.path']}?${a['url.query'] ?? ''}` : a['http.target']);
  return k === undefined ? undefined : String(k);
}

/** Σ c(c−1) / n(n−1) over the keys' counts: the chance two requests ask for the same URL. */
export function repeatChance(keys: string[]): number {
  const n = keys.length;
  if (n < 2) return 0;
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  let pairs = 0;
  for (const c of counts.values()) pairs += c * (c - 1);
  return pairs / (n * (n - 1));
}

/** Expected hit ratio of a TTL cache: requests/s, the repeat chance, the TTL (s), the rate of writes that empty it (/s). */
export function expectedHitRatio(rps: number, repeat: number, ttlSeconds: number, writesPerSecond: number): { ratio: number; lifetime: number } {
  const lifetime = writesPerSecond > 0 ? (1 - Math.exp(-writesPerSecond * ttlSeconds)) / writesPerSecond : ttlSeconds;
  const x = rps * repeat * lifetime;
  return { ratio: x / (1 + x), lifetime };
}

export const cacheableRoutes: Analyzer<{ minShare: number; minAvgMs: number; minRequests: number; ttlMs: number; minKeyedTraces: number; minHitRatio: number; staleOk: string }> = {
  meta: { id: 'cacheable-routes', title: 'Cacheable hot read routes', description: 'GET routes with a large share of server time whose traces only read: a response cache (emptied by the writes seen to the same tables) would serve them.', requires: ['routes', 'traces'] },
  defaults: {
    minShare: { value: 0.05, source: 'a twentieth of all server time (the share × the expected hit ratio): below that a cache saves little and adds staleness' },
    minAvgMs: { value: 20, source: 'a tenth of the PRD 200 ms response budget: faster routes gain little from a cache' },
    minRequests: { value: 20, source: 'fewer requests make a hot route that one burst decides' },
    ttlMs: { value: 60_000, source: 'a minute bounds how stale a response can be when a write changes its data outside the traced routes' },
    minHitRatio: { value: 0.5, source: 'the workflow judges a change by the median request: while fewer than half the requests are served from the cache the median request is still a miss, and no before/after can show the gain' },
    minKeyedTraces: { value: 5, source: 'the fewest traces with URL keys to estimate how often a URL repeats from; with fewer the hit ratio is not estimated and the whole share counts' },
    staleOk: { value: '', source: "none: whether answers up to the TTL out of date after writes are acceptable is the operator's call (facet counts may be, stock levels not); GET route templates listed here, comma-separated, are allowed it in advance, and their cache becomes automatic" },
  },
  async analyze(inputs, o) {
    const traces = inputs.traces!;
    if (traces.length === 0) return { notApplicable: 'no traces in the window (is tracing on?)' };
    const allowed = new Set(o.staleOk.split(',').map((x) => x.trim()).filter(Boolean));
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
      const dbShare = ts.reduce((s, t) => s + t.database.waitMs, 0) / Math.max(1, ts.reduce((s, t) => s + t.duration, 0));
      const keys = ts.map(keyOf).filter((k): k is string => k !== undefined);
      // only a write that succeeded empties the cache (the middleware leaves it on a 4xx/5xx): each
      // writer's rate × the share of its kept traces that answered below 400
      const succeeded = (k: string) => {
        const ws = byRoute.get(k) ?? [];
        return ws.length ? ws.filter((t) => !(Number(t.roots[0]?.attributes['http.response.status_code']) >= 400)).length / ws.length : 1;
      };
      const writesPerSecond = inputs.routes!.filter((w) => invalidatedBy.includes(`${w.method} ${w.route}`)).reduce((s, w) => s + w.requestsPerSecond * succeeded(`${w.method} ${w.route}`), 0);
      const estimated = keys.length >= o.minKeyedTraces;
      const repeat = repeatChance(keys);
      // an entry lives 80–100% of the TTL (the middleware's jitter): on average this long
      const ttl = (o.ttlMs / 1000) * (1 - TTL_JITTER / 2);
      const lives = `${Math.round((1 - TTL_JITTER) * 100)}–100% of ${o.ttlMs / 1000} s`;
      const hit = expectedHitRatio(r.requestsPerSecond, repeat, ttl, writesPerSecond);
      let saved = estimated ? r.timeShare * hit.ratio : r.timeShare;
      const worth = (ratio: number) => r.timeShare * ratio >= o.minShare && ratio >= o.minHitRatio;
      // emptied by every write, the cache hits too rarely; kept for the TTL whatever is written, it
      // would do — but whether answers up to a TTL old are acceptable is a person's call (facet
      // counts may be; stock levels may not): a manual recommendation, not applied by itself
      const ttlOnly = estimated && writesPerSecond > 0 && !worth(hit.ratio) ? expectedHitRatio(r.requestsPerSecond, repeat, ttl, 0) : undefined;
      const stale = ttlOnly !== undefined && worth(ttlOnly.ratio);
      if (stale) saved = r.timeShare * ttlOnly.ratio;
      else if (estimated && !worth(hit.ratio)) continue;
      if (saved < o.minShare) continue;
      const distinct = new Set(keys).size;
      const hitText = stale
        ? `× an expected hit ratio of ${(ttlOnly!.ratio * 100).toFixed(0)}% if entries live their whole TTL whatever is written (${ttl.toFixed(0)} s on average: ${lives}), ${(hit.ratio * 100).toFixed(0)}% if every write empties it (${keys.length} kept traces ask for ${distinct} distinct URLs: two requests ask for the same one with chance ${repeat.toFixed(3)}; at ${r.requestsPerSecond.toFixed(2)} requests/s; ${writesPerSecond.toFixed(2)} successful writes/s by ${invalidatedBy.join(', ')} would leave an entry ${hit.lifetime.toFixed(0)} s)`
        : estimated
        ? `× an expected hit ratio of ${(hit.ratio * 100).toFixed(0)}% (${keys.length} kept traces ask for ${distinct} distinct URLs: two requests ask for the same one with chance ${repeat.toFixed(3)}; at ${r.requestsPerSecond.toFixed(2)} requests/s an entry living ${hit.lifetime.toFixed(0)} s${writesPerSecond > 0 ? ` (the TTL, ${ttl.toFixed(0)} s on average, shortened by ${writesPerSecond.toFixed(2)} successful writes/s that empty it)` : ` (the TTL: ${lives})`} serves x = ${(r.requestsPerSecond * repeat * hit.lifetime).toFixed(2)} hits per miss: x / (1 + x))`
        : `(the hit ratio is not estimated: ${keys.length} of ${ts.length} kept traces carry a URL key, ${o.minKeyedTraces} needed; the saving is this share × the hit ratio the cache reaches)`;
      findings.push({
        severity: (saved >= 0.2 ? 'critical' : 'warning') as 'critical' | 'warning',
        title: stale
          ? `cache GET ${r.route} for ${o.ttlMs / 1000} s even after writes: ${Math.round(r.avgMs)} ms average, ${(r.timeShare * 100).toFixed(0)}% of server time; ${invalidatedBy.join(', ')} change what it reads ${writesPerSecond.toFixed(2)} times a second`
          : `cache GET ${r.route}: ${Math.round(r.avgMs)} ms average, ${(r.timeShare * 100).toFixed(0)}% of server time, reads only`,
        target: { route: r.route, method: 'GET', tables: tables.join(','), invalidatedBy: stale ? '' : invalidatedBy.join(','), ttlMs: String(o.ttlMs), ...(stale ? { staleAfterWrites: invalidatedBy.join(',') } : {}), ...(stale && allowed.has(r.route) ? { staleAllowed: 'optimization.analyzers.cacheable-routes.staleOk' } : {}) } as Record<string, string>,
        evidence: {
          headings: [
            { key: 'rps', label: 'requests/s' },
            { key: 'avg', label: 'average (ms)' },
            { key: 'p95', label: 'p95 (ms)' },
            { key: 'db', label: 'time waiting on the database' },
            { key: 'tables', label: 'tables read' },
            { key: 'writers', label: 'writes seen to them' },
            { key: 'urls', label: 'distinct URLs in kept traces' },
            { key: 'hits', label: 'expected hit ratio' },
          ],
          rows: [{ rps: Number(r.requestsPerSecond.toFixed(2)), avg: Math.round(r.avgMs), p95: Math.round(r.p95Ms), db: `${(dbShare * 100).toFixed(0)}%`, tables: tables.join(', ') || '—', writers: invalidatedBy.join(', ') || 'none traced', urls: estimated ? `${distinct} of ${keys.length}` : '—', hits: stale ? `${(ttlOnly!.ratio * 100).toFixed(0)}% (TTL only; ${(hit.ratio * 100).toFixed(0)}% emptied by writes)` : estimated ? `${(hit.ratio * 100).toFixed(0)}%` : 'not estimated' }],
        },
        impact: { metric: 'server time', estimate: Number((saved * 100).toFixed(1)), unit: '%', derivedFrom: `the route's ${r.requests} requests × ${Math.round(r.avgMs)} ms = ${(r.timeShare * 100).toFixed(1)}% of all routes' request time in the window ${hitText}; reads only in ${ts.length} kept traces` },
      });
    }
    return findings.sort((a, b) => b.impact.estimate - a.impact.estimate);
  },
};
