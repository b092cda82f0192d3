// Outgoing HTTP: http/https.request and fetch (undici). Inside a request context each call is a
// client span whose id goes out in a W3C `traceparent` header, so the callee continues the trace;
// every call is timed as http.client.request.duration (s) by method, host, port and status.
// http(s).request is wrapped to add the header before Node renders the request head (Node 20's
// diagnostics channels fire after that); fetch gets it through undici's request:create channel.
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { recorderOf, tracerOf, type Source } from './source.js';
import type { SpanData } from '../model/spans.js';
import { currentContext, endSpan, errorType, formatTraceparent, type RequestContext, type Tracer } from '../sdk/tracing.js';
import { HTTP_CLIENT_DURATION } from '../semconv.js';


interface Pending {
  start: number;
  span: SpanData | undefined;
  ctx: RequestContext | undefined;
  method: string;
  host: string;
  port: string;
}

type Args = unknown[];

function withHeader(headers: unknown, name: string, value: string): unknown {
  if (headers === undefined || headers === null) return { [name]: value };
  if (Array.isArray(headers)) return headers; // raw header arrays are left as the caller built them
  if (typeof headers !== 'object') return headers;
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name) return headers; // the caller's own wins
  return { ...(headers as Record<string, unknown>), [name]: value };
}

/** Adds the header to whichever argument form http.request was called with. */
function inject(args: Args, value: string): Args {
  const [a, b] = args;
  if (typeof a === 'string' || a instanceof URL) {
    if (b && typeof b === 'object' && typeof b !== 'function') return [a, { ...(b as object), headers: withHeader((b as { headers?: unknown }).headers, 'traceparent', value) }, ...args.slice(2)];
    return [a, { headers: { traceparent: value } }, ...args.slice(1)];
  }
  if (a && typeof a === 'object') return [{ ...(a as object), headers: withHeader((a as { headers?: unknown }).headers, 'traceparent', value) }, ...args.slice(1)];
  return args;
}

/** Instruments outgoing HTTP for this process; returns the undo. */
export function instrumentHttpClient(source: Source, options: { tracer?: Tracer } = {}): () => void {
  const recorder = recorderOf(source);
  const tracer = tracerOf(source, options.tracer);
  const duration = recorder.histogram(HTTP_CLIENT_DURATION, { unit: 's', description: 'Duration of outgoing HTTP requests' });
  const pending = new WeakMap<object, Pending>();

  const begin = (method: string, host: string, port: string): Pending => {
    const ctx = currentContext();
    const span = tracer && ctx ? tracer.startSpan(`${method}`, 'client', { 'http.request.method': method, 'server.address': host, 'server.port': Number(port) }) : undefined;
    return { start: performance.now(), span, ctx, method, host, port };
  };
  const finish = (p: Pending, status: number | undefined, err?: unknown) => {
    try {
      const ms = performance.now() - p.start;
      const attrs: Record<string, string> = { 'http.request.method': p.method, 'server.address': p.host, 'server.port': p.port };
      if (status !== undefined) attrs['http.response.status_code'] = String(status);
      if (err !== undefined) attrs['error.type'] = errorType(err);
      else if (status !== undefined && status >= 400) attrs['error.type'] = String(status);
      duration.record(ms / 1000, attrs);
      if (p.ctx) {
        p.ctx.httpCalls++;
        p.ctx.httpMs += ms;
      }
      if (p.span) {
        if (status !== undefined) p.span.attributes['http.response.status_code'] = status;
        endSpan(p.span, err ?? (status !== undefined && status >= 500 ? new Error(String(status)) : undefined));
      }
    } catch {
      // monitoring never breaks a call
    }
  };

  // http / https
  const wrap = (mod: typeof http | typeof https, fn: 'request' | 'get') => {
    const original = mod[fn] as (...a: Args) => http.ClientRequest;
    const wrapped = function (this: unknown, ...args: Args): http.ClientRequest {
      let p: Pending | undefined;
      let call = args;
      try {
        const { method, host, port } = describe(args, mod === https ? '443' : '80');
        p = begin(method, host, port);
        if (p.span) call = inject(args, formatTraceparent(p.span.traceId, p.span.spanId));
      } catch {
        p = undefined;
      }
      const req = original.apply(this, call);
      if (p) pending.set(req, p);
      return req;
    };
    mod[fn] = wrapped as never;
    return () => {
      if (mod[fn] === (wrapped as never)) mod[fn] = original as never;
    };
  };
  const undo = [wrap(http, 'request'), wrap(http, 'get'), wrap(https, 'request'), wrap(https, 'get')];
  // the statuses undici reports at headers time, for when the body has finished
  const statusOf = new WeakMap<object, number>();
  /** Ends the call a channel message is about; a message about a call we did not start is ignored. */
  const settle = (m: unknown) => {
    const { request, response, error } = m as { request: object; response?: { statusCode?: number }; error?: unknown };
    const p = pending.get(request);
    if (!p) return;
    pending.delete(request);
    finish(p, error === undefined ? (response?.statusCode ?? statusOf.get(request)) : undefined, error);
  };
  // fetch (undici): the header goes in at request:create, before undici writes the request
  const onCreate = (m: unknown) => {
    const { request } = m as { request: { method?: string; origin?: string; addHeader?: (k: string, v: string) => void } };
    try {
      const u = new URL(String(request.origin));
      const p = begin(String(request.method ?? 'GET').toUpperCase(), u.hostname, u.port || (u.protocol === 'https:' ? '443' : '80'));
      if (p.span) request.addHeader?.('traceparent', formatTraceparent(p.span.traceId, p.span.spanId));
      pending.set(request, p);
    } catch {
      // ditto
    }
  };
  const onHeaders = (m: unknown) => {
    const { request, response } = m as { request: object; response: { statusCode: number } };
    statusOf.set(request, response.statusCode);
  };
  const channels: [string, (m: unknown) => void][] = [
    ['http.client.response.finish', settle],
    ['http.client.request.error', settle],
    ['undici:request:create', onCreate],
    ['undici:request:headers', onHeaders],
    // the trailers message carries no response: settle takes the status seen at headers time
    ['undici:request:trailers', settle],
    ['undici:request:error', settle],
  ];
  for (const [name, fn] of channels) dc.subscribe(name, fn);

  return () => {
    for (const u of undo) u();
    for (const [name, fn] of channels) dc.unsubscribe(name, fn);
  };
}

function describe(args: Args, defaultPort: string): { method: string; host: string; port: string } {
  const [a, b] = args;
  let method = 'GET';
  let host = 'localhost';
  let port = defaultPort;
  if (typeof a === 'string' || a instanceof URL) {
    const u = new URL(String(a));
    host = u.hostname;
    port = u.port || (u.protocol === 'https:' ? '443' : '80');
  }
  const o = (typeof a === 'object' && !(a instanceof URL) ? a : b) as { method?: string; hostname?: string; host?: string; port?: number | string } | undefined;
  if (o && typeof o === 'object') {
    if (o.method) method = String(o.method).toUpperCase();
    if (o.hostname || o.host) host = String(o.hostname ?? o.host).replace(/:\d+$/, '');
    if (o.port) port = String(o.port);
  }
  return { method, host, port };
}
