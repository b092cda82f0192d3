// ExportTraceServiceRequest (OTLP/JSON shape; protobuf is decoded to it first) → SpanRows.
// Each span is checked on its own: a bad one is rejected and counted (partial success), the rest
// are kept. Ids must be hex of the right length and not all zero (W3C Trace Context).
import type { SpanRow } from '../store/store.js';

const KINDS: SpanRow['kind'][] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUSES: SpanRow['status'][] = ['unset', 'ok', 'error'];
const MAX_ATTRIBUTES = 128;
const MAX_VALUE = 4096;

export interface TraceIngestResult {
  spans: SpanRow[];
  rejected: number;
  errors: string[];
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

function attributes(list: unknown): SpanRow['attributes'] {
  const out: SpanRow['attributes'] = {};
  if (list === undefined) return out;
  if (!Array.isArray(list)) throw new Error('attributes is not a list');
  for (const kv of list.slice(0, MAX_ATTRIBUTES) as Json[]) {
    const key = kv?.key;
    const v = kv?.value as Json | undefined;
    if (typeof key !== 'string' || !v) continue;
    if (typeof v.stringValue === 'string') out[key] = v.stringValue.slice(0, MAX_VALUE);
    else if (typeof v.boolValue === 'boolean') out[key] = v.boolValue;
    else if (v.intValue !== undefined) out[key] = Number(v.intValue);
    else if (typeof v.doubleValue === 'number') out[key] = v.doubleValue;
    else if (v.doubleValue !== undefined) out[key] = Number(v.doubleValue);
  }
  return out;
}

function resourceString(attrs: SpanRow['attributes'], key: string, fallback: string): string {
  const v = attrs[key];
  return typeof v === 'string' && v ? v : fallback;
}

export function readTraces(body: unknown): TraceIngestResult {
  if (!body || typeof body !== 'object' || (body as Json).resourceSpans === undefined) throw new Error('resourceSpans missing');
  const resourceSpans = (body as Json).resourceSpans;
  if (!Array.isArray(resourceSpans)) throw new Error('resourceSpans is not a list');
  const spans: SpanRow[] = [];
  const errors: string[] = [];
  let rejected = 0;
  for (const rs of resourceSpans as Json[]) {
    const res = attributes((rs?.resource as Json | undefined)?.attributes);
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
          const kind = KINDS[Number(s.kind ?? 0)] ?? 'unspecified';
          const status = (s.status as Json | undefined) ?? {};
          const row: SpanRow = {
            traceId: s.traceId as string,
            spanId: s.spanId as string,
            service,
            instance,
            name: s.name.slice(0, 1024),
            kind,
            start,
            duration: end - start,
            status: STATUSES[Number(status.code ?? 0)] ?? 'unset',
            attributes: attributes(s.attributes),
          };
          if (s.parentSpanId) row.parentSpanId = s.parentSpanId as string;
          if (typeof status.message === 'string' && status.message) row.statusMessage = status.message.slice(0, MAX_VALUE);
          spans.push(row);
        } catch (e) {
          rejected++;
          if (errors.length < 10) errors.push(`span ${typeof s?.name === 'string' ? `"${s.name.slice(0, 80)}"` : '?'}: ${(e as Error).message}`);
        }
      }
    }
  }
  return { spans, rejected, errors };
}
