// Traces as the API returns them: the list (entry spans, slowest first) and one trace as a tree
// with what it spent on the database, including statements repeated within the request (the
// signature of an N+1).
import type { SpanRow, Store, TraceFilter, TraceSummary } from '../store/store.js';
import { parseTime } from './filters.js';

export interface SpanNode extends SpanRow {
  /** ms from the trace's first span */
  offset: number;
  children: SpanNode[];
}

export interface TraceDetail {
  traceId: string;
  start: number;
  duration: number;
  spans: number;
  error: boolean;
  roots: SpanNode[];
  /**
   * the request's queries: how many, their summed time, the time at least one was running (queries
   * run in parallel overlap: this is what the request waited), and the statements run more than once
   */
  database: { queries: number; timeMs: number; waitMs: number; repeated: { statement: string; count: number; totalMs: number }[] };
}

export interface TraceQuery {
  from?: string;
  to?: string;
  service?: string;
  route?: string;
  error?: string;
  minDuration?: string;
  limit?: string;
}

export function traceFilter(q: TraceQuery, now: number): TraceFilter {
  const f: TraceFilter = { from: parseTime(q.from, now, now - 3_600_000), to: parseTime(q.to, now, now + 1) };
  if (q.service) f.service = q.service;
  if (q.route) f.route = q.route;
  if (q.error !== undefined && q.error !== 'true' && q.error !== 'false') throw new RangeError('error must be true or false');
  if (q.error === 'true') f.errorsOnly = true;
  if (q.minDuration !== undefined) {
    const ms = Number(q.minDuration);
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('minDuration is a number of ms ≥ 0');
    f.minDurationMs = ms;
  }
  if (q.limit !== undefined) {
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new RangeError('limit is an integer from 1 to 1000');
    f.limit = n;
  }
  return f;
}

export async function listTraces(store: Store, q: TraceQuery, now = Date.now()): Promise<{ traces: TraceSummary[] }> {
  return { traces: await store.listTraces(traceFilter(q, now)) };
}

/** The length of the union of [start, end) intervals. */
function unionLength(intervals: [number, number][]): number {
  let total = 0;
  let end = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/** Builds the tree; spans whose parent is not stored become roots (a caller in another service). */
export function traceTree(spans: SpanRow[]): TraceDetail | undefined {
  if (spans.length === 0) return undefined;
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.start + s.duration));
  const nodes = new Map<string, SpanNode>(spans.map((s) => [s.spanId, { ...s, offset: s.start - start, children: [] }]));
  const roots: SpanNode[] = [];
  for (const n of nodes.values()) {
    const parent = n.parentSpanId ? nodes.get(n.parentSpanId) : undefined;
    if (parent && parent !== n) parent.children.push(n);
    else roots.push(n);
  }
  const byStatement = new Map<string, { statement: string; count: number; totalMs: number }>();
  let queries = 0;
  let timeMs = 0;
  const intervals: [number, number][] = [];
  for (const s of spans) {
    const text = s.attributes['db.query.text'];
    if (s.kind !== 'client' || s.attributes['db.system.name'] !== 'postgresql' || typeof text !== 'string') continue;
    queries++;
    timeMs += s.duration;
    intervals.push([s.start, s.start + s.duration]);
    const e = byStatement.get(text) ?? { statement: text, count: 0, totalMs: 0 };
    e.count++;
    e.totalMs += s.duration;
    byStatement.set(text, e);
  }
  return {
    traceId: spans[0].traceId,
    start,
    duration: end - start,
    spans: spans.length,
    error: spans.some((s) => s.status === 'error'),
    roots,
    database: { queries, timeMs, waitMs: unionLength(intervals), repeated: [...byStatement.values()].filter((e) => e.count > 1).sort((a, b) => b.count - a.count) },
  };
}

/** Every span of a trace tree, parents before their children. */
export function spansOf(t: TraceDetail): SpanNode[] {
  const out: SpanNode[] = [];
  const walk = (n: SpanNode) => {
    out.push(n);
    n.children.forEach(walk);
  };
  t.roots.forEach(walk);
  return out;
}

/** The route and method of a trace's entry span ("" when it has no route). */
export function entryRoute(t: TraceDetail): { method: string; route: string } {
  const a = t.roots[0]?.attributes ?? {};
  return { method: String(a['http.request.method'] ?? 'GET').toUpperCase(), route: String(a['http.route'] ?? '') };
}
