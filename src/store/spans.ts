// What both backends share about spans: which span is a trace's entry, and the filter's bounds.
import type { SpanRow, TraceFilter } from './store.js';

/** The span a trace is listed by: the service's server span, or a span with no parent. */
export function isEntry(s: SpanRow): boolean {
  return s.kind === 'server' || !s.parentSpanId;
}

export function routeOf(s: SpanRow): string | null {
  const r = s.attributes['http.route'];
  return typeof r === 'string' ? r : null;
}

export function traceLimit(f: TraceFilter): number {
  return Math.min(1000, Math.max(1, Math.floor(f.limit ?? 100)));
}

export type SpanDbRow = { trace_id: string; span_id: string; parent_span_id: string | null; service: string; instance: string; name: string; kind: SpanRow['kind']; start: number; duration: number; status: SpanRow['status']; status_message: string | null; attributes: string | object };

/** Both backends return the same columns; PostgreSQL hands JSONB back parsed. */
export function spanFromDb(r: SpanDbRow): SpanRow {
  const s: SpanRow = { traceId: r.trace_id, spanId: r.span_id, service: r.service, instance: r.instance, name: r.name, kind: r.kind, start: Number(r.start), duration: Number(r.duration), status: r.status, attributes: typeof r.attributes === 'string' ? JSON.parse(r.attributes) : (r.attributes as SpanRow['attributes']) };
  if (r.parent_span_id) s.parentSpanId = r.parent_span_id;
  if (r.status_message) s.statusMessage = r.status_message;
  return s;
}
