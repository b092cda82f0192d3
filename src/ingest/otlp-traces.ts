// ExportTraceServiceRequest (OTLP/JSON shape; protobuf is decoded to it first) → SpanRows.
// Each span is checked on its own: a bad one is rejected and counted (partial success), the rest
// are kept. Ids must be hex of the right length and not all zero (W3C Trace Context). The limits
// are the points' (config `limits`), applied as the OpenTelemetry SDK applies its span limits:
// extra attributes are dropped and long values cut, counted and said, the span kept. Events and
// links are not stored.
import { IDENTITY, POINT_LIMITS, type PointLimits } from './otlp-metrics.js';
import type { SpanRow } from '../store/store.js';

const KINDS: SpanRow['kind'][] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUSES: SpanRow['status'][] = ['unset', 'ok', 'error'];

export type SpanLimits = PointLimits & { spansPerTrace: number };
export const SPAN_LIMITS: SpanLimits = { ...POINT_LIMITS, spansPerTrace: 5_000 };

export interface TraceIngestResult {
  spans: SpanRow[];
  rejected: number;
  errors: string[];
  /** attributes dropped past the count limit, and values (or names) cut to the length limit */
  dropped: number;
  cut: number;
}

type Json = Record<string, unknown>;

const isId = (v: unknown, len: number) => typeof v === 'string' && v.length === len && /^[0-9a-f]+$/.test(v) && !/^0+$/.test(v);

function nanosToMs(v: unknown, what: string): number {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`${what} missing`);
  const s = String(v);
  if (!/^\d{1,20}$/.test(s)) throw new Error(`${what} is not an unsigned integer`);
  const n = BigInt(s);
  return Number(n / 1_000_000n) + Number(n % 1_000_000n) / 1e6;
}

/** Attributes within the count and length limits; what is dropped or cut is counted in `tally`. */
function attributes(list: unknown, max: number, len: number, tally: { dropped: number; cut: number }, keep: string[] = []): SpanRow['attributes'] {
  const out: SpanRow['attributes'] = {};
  if (list === undefined) return out;
  if (!Array.isArray(list)) throw new Error('attributes is not a list');
  let kept = 0;
  for (const kv of list as Json[]) {
    const key = kv?.key;
    const v = kv?.value as Json | undefined;
    if (typeof key !== 'string' || key.length === 0 || key.length > 256 || !v) continue;
    if (kept >= max && !keep.includes(key)) {
      tally.dropped++;
      continue;
    }
    kept++;
    if (typeof v.stringValue === 'string') out[key] = cut(v.stringValue, len, tally);
    else if (typeof v.boolValue === 'boolean') out[key] = v.boolValue;
    else if (v.intValue !== undefined) out[key] = Number(v.intValue);
    else if (typeof v.doubleValue === 'number') out[key] = v.doubleValue;
    else if (v.doubleValue !== undefined) out[key] = Number(v.doubleValue);
  }
  return out;
}

function cut(s: string, len: number, tally: { cut: number }): string {
  if (s.length <= len) return s;
  tally.cut++;
  return s.slice(0, len);
}

function resourceString(attrs: SpanRow['attributes'], key: string, fallback: string): string {
  const v = attrs[key];
  return typeof v === 'string' && v ? v : fallback;
}

/** `perTrace` carries the spans counted per trace across the slices of one request. */
export function readTraces(body: unknown, limits: SpanLimits = SPAN_LIMITS, now = Date.now(), perTrace = new Map<string, number>()): TraceIngestResult {
  if (!body || typeof body !== 'object' || (body as Json).resourceSpans === undefined) throw new Error('resourceSpans missing');
  const resourceSpans = (body as Json).resourceSpans;
  if (!Array.isArray(resourceSpans)) throw new Error('resourceSpans is not a list');
  const spans: SpanRow[] = [];
  const errors: string[] = [];
  const tally = { dropped: 0, cut: 0 };
  let rejected = 0;
  for (const rs of resourceSpans as Json[]) {
    const ofResource = { dropped: 0, cut: 0 };
    const res = attributes((rs?.resource as Json | undefined)?.attributes, limits.resourceAttributes, limits.attributeValueLength, ofResource, IDENTITY);
    tally.cut += ofResource.cut;
    if (ofResource.dropped > 0) errors.push(`resource has ${ofResource.dropped} attributes past limits.resourceAttributes (${limits.resourceAttributes}); they were dropped`);
    const service = resourceString(res, 'service.name', 'unknown_service');
    const instance = resourceString(res, 'service.instance.id', resourceString(res, 'host.name', 'unknown'));
    for (const ss of (Array.isArray(rs?.scopeSpans) ? rs.scopeSpans : []) as Json[]) {
      for (const s of (Array.isArray(ss?.spans) ? ss.spans : []) as Json[]) {
        try {
          if (!isId(s.traceId, 32)) throw new Error('traceId must be 32 hex digits, not all zero');
          if (!isId(s.spanId, 16)) throw new Error('spanId must be 16 hex digits, not all zero');
          if (s.parentSpanId !== undefined && s.parentSpanId !== '' && !isId(s.parentSpanId, 16)) throw new Error('parentSpanId must be 16 hex digits');
          if (typeof s.name !== 'string' || s.name.length === 0) throw new Error('name missing');
          const start = nanosToMs(s.startTimeUnixNano, 'startTimeUnixNano');
          const end = nanosToMs(s.endTimeUnixNano, 'endTimeUnixNano');
          if (end < start) throw new Error('endTimeUnixNano is before startTimeUnixNano');
          if (start < now - limits.maxPastMs || start > now + limits.maxFutureMs) throw new Error(`start ${new Date(start).toISOString()} is outside the accepted range`);
          const inTrace = (perTrace.get(s.traceId as string) ?? 0) + 1;
          if (inTrace > limits.spansPerTrace) throw new Error(`trace has more than ${limits.spansPerTrace} spans in this request (limits.spansPerTrace)`);
          perTrace.set(s.traceId as string, inTrace);
          const kind = KINDS[Number(s.kind ?? 0)] ?? 'unspecified';
          const status = (s.status as Json | undefined) ?? {};
          const row: SpanRow = {
            traceId: s.traceId as string,
            spanId: s.spanId as string,
            service,
            instance,
            name: cut(s.name, limits.attributeValueLength, tally),
            kind,
            start,
            duration: end - start,
            status: STATUSES[Number(status.code ?? 0)] ?? 'unset',
            attributes: attributes(s.attributes, limits.attributes, limits.attributeValueLength, tally),
          };
          if (s.parentSpanId) row.parentSpanId = s.parentSpanId as string;
          if (typeof status.message === 'string' && status.message) row.statusMessage = cut(status.message, limits.attributeValueLength, tally);
          spans.push(row);
        } catch (e) {
          rejected++;
          if (errors.length < 10) errors.push(`span ${typeof s?.name === 'string' ? `"${s.name.slice(0, 80)}"` : '?'}: ${(e as Error).message}`);
        }
      }
    }
  }
  if (tally.dropped + tally.cut > 0) errors.push(`${tally.dropped} span attributes past limits.attributes (${limits.attributes}) were dropped and ${tally.cut} values or names cut to limits.attributeValueLength (${limits.attributeValueLength})`);
  return { spans, rejected, errors, ...tally };
}
