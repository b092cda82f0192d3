// Recommendations (getOptimizationRecommendations): the analyzers' findings turned into ranked,
// de-duplicated proposals; those with an action this product can apply and roll back carry it.
// The id is stable across runs (analyzer + target), so `optimize --only <id>` names the same thing.
import crypto from 'node:crypto';
import type { AnalyzerResult, Evidence, Finding } from '../analyzers/types.js';
import { entryRoute, spansOf, type TraceDetail } from '../query/traces.js';
import { fingerprint } from '../instrument/sql.js';
import { candidateColumns } from '../analyzers/missing-index.js';
import type { ActionSpec } from './actions.js';

export interface OptimizationRecommendation {
  id: string;
  type: 'index' | 'cache' | 'compression' | 'cache-headers' | 'query' | 'frontend' | 'route' | 'database' | 'runtime' | 'scaling';
  /** 1 = first; ranked by severity, then by estimated impact */
  priority: number;
  severity: Finding['severity'];
  title: string;
  description: string;
  evidence: Evidence;
  impact: Finding['impact'];
  effort: 'low' | 'medium' | 'high';
  estimatedImprovement: { metric: string; value: number; unit: string; derivedFrom: string };
  /** whether `optimize --apply` can apply it (and roll it back) */
  automatic: boolean;
  /** what approved in advance a change that would otherwise be a person's call (the operator's config) */
  approval?: string;
  action?: ActionSpec;
  /** routes the change should speed up (the workflow measures these) */
  routes: { method: string; route: string }[];
  analyzer: string;
}

type Draft = Omit<OptimizationRecommendation, 'priority' | 'id' | 'severity' | 'evidence' | 'impact' | 'title' | 'analyzer' | 'estimatedImprovement'> & { estimatedImprovement?: OptimizationRecommendation['estimatedImprovement'] };

const MANUAL: Record<string, { type: OptimizationRecommendation['type']; effort: OptimizationRecommendation['effort']; description: string }> = {
  'n-plus-one': { type: 'query', effort: 'medium', description: 'Load the rows in one query (a join, or WHERE id = ANY($1)) instead of one query per row.' },
  'slow-queries': { type: 'query', effort: 'medium', description: 'Rewrite the statement or give it an index (see EXPLAIN); cache its result if it aggregates data that changes rarely.' },
  'slow-routes': { type: 'route', effort: 'medium', description: "Look at the route's traces for where the time goes (database, outgoing calls, CPU)." },
  images: { type: 'frontend', effort: 'low', description: 'Serve images at the size they are shown (srcset) and lazy-load the ones below the fold.' },
  bundle: { type: 'frontend', effort: 'medium', description: 'Defer or split the JavaScript: a small entry with defer, the rest loaded when needed.' },
  lighthouse: { type: 'frontend', effort: 'medium', description: "Fix what the Lighthouse audit names (its report lists the resources): images at their shown size and in AVIF/WebP, lazy below the fold and never the LCP image; scripts deferred or split; text compressed; static assets cached long." },
  'unused-indexes': { type: 'database', effort: 'low', description: 'Drop indexes no query uses (after checking replicas and rare jobs): every write pays for them.' },
  'cache-hit-ratio': { type: 'cache', effort: 'low', description: 'Lengthen the TTL, drop per-user parts of the key, or stop emptying the cache on unrelated writes.' },
  'pool-saturation': { type: 'database', effort: 'low', description: 'Raise the pool size (within the database max_connections) or shorten what holds connections.' },
  'event-loop': { type: 'runtime', effort: 'high', description: 'Move synchronous CPU work off the event loop (worker threads) or break it into chunks.' },
  'memory-growth': { type: 'runtime', effort: 'high', description: 'Take heap snapshots some minutes apart and compare what grows; look for caches without bounds and listeners never removed.' },
  'cpu-saturation': { type: 'scaling', effort: 'medium', description: 'Run more instances (or profile the hottest routes): the CPU is the limit.' },
  partitioning: { type: 'database', effort: 'high', description: 'Partition the table by time so range queries read only the recent partitions and old data can be detached.' },
  'read-replicas': { type: 'database', effort: 'high', description: 'Route read-only queries to a streaming replica; keep writes and read-your-writes on the primary.' },
};

/** The same problem keeps its id across runs, and whether the operator allowed it in advance does not change it. */
const stableId = (analyzer: string, target: Record<string, string>) => `${analyzer}-${crypto.createHash('sha1').update(JSON.stringify(Object.entries(target).filter(([k]) => k !== 'staleAllowed').sort())).digest('hex').slice(0, 8)}`;

/** Statement text with every parameter and literal as "?": pg_stat_statements writes $3 where the app sent LIMIT 8. */
const shape = (sql: string) => fingerprint(sql).text.replace(/\$\d+/g, '?');

/** Routes whose kept traces ran a statement the predicate accepts. */
function routesWhere(traces: TraceDetail[], accepts: (statement: string) => boolean): { method: string; route: string }[] {
  const out = new Map<string, { method: string; route: string }>();
  for (const t of traces) {
    const r = entryRoute(t);
    if (r.route && spansOf(t).some((s) => typeof s.attributes['db.query.text'] === 'string' && accepts(s.attributes['db.query.text']))) out.set(`${r.method} ${r.route}`, r);
  }
  return [...out.values()];
}

/** Routes whose kept traces ran this statement (by fingerprint, parameters and literals alike). */
export function routesRunning(statement: string, traces: TraceDetail[]): { method: string; route: string }[] {
  const want = shape(statement);
  return routesWhere(traces, (text) => shape(text) === want);
}

/** Routes whose kept traces run a statement on this table filtering on the index's first column. */
export function routesServedBy(index: { table: string; columns: string[] }, traces: TraceDetail[]): { method: string; route: string }[] {
  const table = index.table.replace(/^public\./, '');
  return routesWhere(traces, (text) => fingerprint(text).collection?.replace(/^public\./, '') === table && candidateColumns(text).equal.includes(index.columns[0]));
}

/** Path prefixes ("/images/products/") of the URLs in an evidence table. */
function prefixes(rows: Record<string, string | number>[]): string[] {
  const out = new Set<string>();
  for (const r of rows) {
    try {
      const p = new URL(String(r.url)).pathname;
      out.add(p.slice(0, p.lastIndexOf('/') + 1) || '/');
    } catch {
      // not a URL
    }
  }
  return [...out].sort();
}

function draft(analyzer: string, f: Finding, traces: TraceDetail[]): Draft | undefined {
  const t = f.target;
  switch (analyzer) {
    case 'missing-index': {
      const action = { type: 'create-index' as const, table: t.table, columns: t.columns.split(','), ...(t.include ? { include: t.include.split(',') } : {}) };
      // the statement's routes, and every route whose traced statements the index can serve
      const routes = new Map([...routesRunning(t.statement, traces), ...routesServedBy(action, traces)].map((r) => [`${r.method} ${r.route}`, r]));
      return { type: 'index', description: `${t.index}: the planner costs the statement's plan with and without it.`, effort: 'low', automatic: true, action, routes: [...routes.values()].sort((a, b) => a.route.localeCompare(b.route)) };
    }
    case 'cacheable-routes':
      return {
        type: 'cache',
        description: t.staleAfterWrites
          ? `Cache GET ${t.route} responses for ${Number(t.ttlMs) / 1000} s in the optimization middleware, not emptied by ${t.staleAfterWrites.split(',').join(', ')}: its answers may be up to ${Number(t.ttlMs) / 1000} s out of date after those writes. ${t.staleAllowed ? `The operator allowed that for this route (${t.staleAllowed}).` : 'Apply it only if that is acceptable (emptied by every write, the cache would hit too rarely to matter).'}`
          : `Cache GET ${t.route} responses for ${Number(t.ttlMs) / 1000} s in the optimization middleware${t.invalidatedBy ? `, emptied by ${t.invalidatedBy.split(',').join(', ')}` : ''} and by writes to ${t.route.split('/:')[0]}.`,
        effort: 'low',
        // answers out of date after writes are a person's call: made in advance by the operator's config, or at apply time
        automatic: !t.staleAfterWrites || t.staleAllowed !== undefined,
        ...(t.staleAllowed ? { approval: `allowed in advance by the operator: ${t.staleAllowed} lists ${t.route}` } : {}),
        action: { type: 'route-cache', params: { method: 'GET', route: t.route, ttlMs: Number(t.ttlMs), backend: 'memory', maxEntries: 1000, invalidatedBy: t.invalidatedBy ? t.invalidatedBy.split(',') : [] } },
        routes: [{ method: 'GET', route: t.route }],
      };
    case 'compression':
      return { type: 'compression', description: 'Compress text responses (brotli, else gzip) of 1 KiB and more in the optimization middleware.', effort: 'low', automatic: true, action: { type: 'compression', params: { threshold: 1024, brotli: true } }, routes: [] };
    case 'cache-headers': {
      const paths = prefixes(f.evidence.rows);
      return { type: 'cache-headers', description: `Send Cache-Control: public, max-age=31536000, immutable on ${paths.join(', ')} (their URLs must change when their content does).`, effort: 'low', automatic: paths.length > 0, action: paths.length ? { type: 'cache-headers', params: { paths, maxAgeSeconds: 31_536_000, immutable: true }, urls: f.evidence.rows.map((r) => String(r.url)).slice(0, 50) } : undefined, routes: [] };
    }
    default: {
      const m = MANUAL[analyzer];
      if (!m) return undefined;
      return { ...m, automatic: false, routes: t.route ? [{ method: t.method ?? 'GET', route: t.route }] : [] };
    }
  }
}

const SEVERITY = { critical: 0, warning: 1, info: 2 } as const;

export function recommend(results: AnalyzerResult[], traces: TraceDetail[] = []): OptimizationRecommendation[] {
  const recs: Omit<OptimizationRecommendation, 'priority'>[] = [];
  const statementOf = new Map<string, string>();
  for (const r of results) {
    for (const f of r.findings) {
      const d = draft(r.id, f, traces);
      if (!d) continue;
      if (f.target.statement) statementOf.set(stableId(r.id, f.target), fingerprint(f.target.statement).text);
      recs.push({ ...d, id: stableId(r.id, f.target), analyzer: r.id, severity: f.severity, title: f.title, evidence: f.evidence, impact: f.impact, estimatedImprovement: d.estimatedImprovement ?? { metric: f.impact.metric, value: f.impact.estimate, unit: f.impact.unit, derivedFrom: f.impact.derivedFrom } });
    }
  }
  // one proposal per problem: a slow statement with an index candidate is the index; a slow route
  // that another recommendation targets is that recommendation
  const indexed = new Set(recs.filter((x) => x.analyzer === 'missing-index').map((x) => statementOf.get(x.id)));
  // a slow statement on the same table that filters on the index's first column is served by it too
  const indexes = recs.flatMap((x) => (x.action?.type === 'create-index' ? [x.action] : []));
  const servedByIndex = (statement: string | undefined) => {
    if (!statement) return false;
    const table = fingerprint(statement).collection?.replace(/^public\./, '');
    return indexes.some((a) => a.table.replace(/^public\./, '') === table && candidateColumns(statement).equal.includes(a.columns[0]));
  };
  const routed = new Set(recs.filter((x) => x.analyzer !== 'slow-routes').flatMap((x) => x.routes.map((rt) => `${rt.method} ${rt.route}`)));
  const kept = recs.filter((x) => {
    if (x.analyzer === 'slow-queries') return !indexed.has(statementOf.get(x.id)) && !servedByIndex(statementOf.get(x.id));
    if (x.analyzer === 'slow-routes') return !x.routes.some((rt) => routed.has(`${rt.method} ${rt.route}`));
    return true;
  });
  kept.sort((a, b) => SEVERITY[a.severity] - SEVERITY[b.severity] || (b.impact.unit === '%' ? b.impact.estimate : 0) - (a.impact.unit === '%' ? a.impact.estimate : 0) || Number(b.automatic) - Number(a.automatic));
  return kept.map((x, i) => ({ ...x, priority: i + 1 }));
}
