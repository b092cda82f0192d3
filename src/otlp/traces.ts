// Kept traces → ExportTraceServiceRequest in the OTLP/JSON shape (hex ids, nanosecond strings).
import type { SpanAttributes, SpanKind, TraceRecord } from '../model/spans.js';

const SCOPE = { name: 'solemate-performance', version: '0.1.0' };
export const SPAN_KIND: Record<SpanKind, number> = { internal: 1, server: 2, client: 3 };
const STATUS = { unset: 0, ok: 1, error: 2 } as const;

/** ms since the epoch (fractional) → integer nanoseconds as a decimal string */
export function nanosPrecise(ms: number): string {
  const whole = Math.trunc(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6))).toString();
}

export function otlpAttributes(a: SpanAttributes): object[] {
  return Object.keys(a).map((key) => {
    const v = a[key];
    const value = typeof v === 'boolean' ? { boolValue: v } : typeof v === 'number' ? (Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }) : { stringValue: String(v) };
    return { key, value };
  });
}

export function buildTracesRequest(traces: TraceRecord[]): object {
  const byResource = new Map<string, TraceRecord[]>();
  for (const t of traces) {
    const k = `${t.service}\u0000${t.instance}`;
    const list = byResource.get(k);
    if (list) list.push(t);
    else byResource.set(k, [t]);
  }
  const resourceSpans = [];
  for (const list of byResource.values()) {
    const resource = { attributes: otlpAttributes({ 'service.name': list[0].service, 'service.instance.id': list[0].instance }) };
    const spans = [];
    for (const t of list) {
      for (const s of t.spans) {
        if (s.duration < 0) continue; // never ended (the request finished first): not sent
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
          name: s.name,
          kind: SPAN_KIND[s.kind],
          startTimeUnixNano: nanosPrecise(s.start),
          endTimeUnixNano: nanosPrecise(s.start + s.duration),
          attributes: otlpAttributes(s.attributes),
          status: { code: STATUS[s.status], ...(s.statusMessage ? { message: s.statusMessage } : {}) },
        });
      }
    }
    resourceSpans.push({ resource, scopeSpans: [{ scope: SCOPE, spans }] });
  }
  return { resourceSpans };
}
