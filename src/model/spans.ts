// The span model: what the SDK's tracer collects and otlp/ encodes for the wire. Plain objects, not
// @opentelemetry/api spans: a span is one object and two timestamps (docs/decisions.md, bench/tracing.ts).
export type SpanKind = 'internal' | 'server' | 'client';
export type SpanAttributes = Record<string, string | number | boolean>;

export interface SpanData {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: SpanKind;
  /** ms since the Unix epoch, sub-millisecond precision */
  start: number;
  /** ms; -1 while the span is open */
  duration: number;
  attributes: SpanAttributes;
  status: 'unset' | 'ok' | 'error';
  statusMessage?: string;
}

/** A kept request: its spans (root first) and the resource it came from. */
export interface TraceRecord {
  service: string;
  instance: string;
  spans: SpanData[];
}
