// Request context and tracing. One AsyncLocalStorage holds the request being served, so database,
// cache and outgoing HTTP instrumentation can attach their spans and counts to it without the app
// passing anything along. Spans are plain objects collected per request; when the request ends a
// tail sampler decides whether its whole tree is kept (every error, the slowest few per route per
// minute) and the kept trees go to the exporter. Every request, sampled or not, feeds the per-route
// queries-per-request and database-time-share histograms that N+1 detection reads.
//
// Built on our own span objects rather than @opentelemetry/api: a span here is one object and two
// timestamps, and the wire format is still OTLP (see docs/decisions.md, bench/tracing.ts).
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ATTR_URL_KEY } from '../semconv.js';
import type { SpanAttributes, SpanData, SpanKind, TraceRecord } from '../model/spans.js';
import type { Recorder } from './recorder.js';
import type { Handle } from './series.js';

/** What one request accumulates while it is served. */
export class RequestContext {
  readonly root: SpanData;
  readonly spans: SpanData[];
  /** what the request is running under now: itself, or an internal span opened by withSpan */
  readonly frame: Frame;
  route: string | undefined;
  dbCalls = 0;
  dbMs = 0;
  cacheCalls = 0;
  cacheMs = 0;
  httpCalls = 0;
  httpMs = 0;
  /** the first error a child span reported (its class name) */
  childError: string | undefined;

  constructor(root: SpanData) {
    this.root = root;
    this.spans = [root];
    this.frame = { ctx: this, parent: root };
  }
}

/** The async-local value: the request, and the span new children hang under. */
interface Frame {
  ctx: RequestContext;
  parent: SpanData;
}

const storage = new AsyncLocalStorage<Frame>();

/** The request being served on this async path, if any. */
export function currentContext(): RequestContext | undefined {
  return storage.getStore()?.ctx;
}

/**
 * `fn`, bound to the request context current now: for callbacks that libraries call from another
 * async context (a socket's). Cheaper than AsyncResource.bind, which on Node 20 builds deprecation
 * wrappers on every call; it restores our context only.
 */
export function bindContext<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  const frame = storage.getStore();
  if (!frame) return fn;
  return function (this: unknown, ...args: A): R {
    return storage.run(frame, () => fn.apply(this, args));
  };
}

const now = (): number => performance.timeOrigin + performance.now();

function randomHex(bytes: number): string {
  // crypto.randomBytes is ~1 µs; ids only need uniqueness, not secrecy, but a collision across
  // services would merge traces, so keep real randomness from a pooled buffer.
  if (poolOffset + bytes > pool.length) {
    crypto.randomFillSync(pool);
    poolOffset = 0;
  }
  const s = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return s;
}
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** W3C Trace Context: the trace and parent span a caller sent, or undefined when absent or invalid. */
export function parseTraceparent(header: unknown): { traceId: string; parentSpanId: string; sampled: boolean } | undefined {
  if (typeof header !== 'string') return undefined;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!m) return undefined;
  const [, version, traceId, parentSpanId, flags] = m;
  if (version === 'ff' || (version === '00' && header.trim().length !== 55)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentSpanId)) return undefined;
  return { traceId, parentSpanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled = true): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

export interface TailSamplerOptions {
  /** slowest requests kept per route per window (default 3) */
  slowestPerRoute?: number;
  /** ms (default 60 000) */
  windowMs?: number;
  /** upper bound of traces kept per window, errors included (default 1000) */
  maxPerWindow?: number;
}

/**
 * Keeps every error trace and the slowest few per route per window. Decisions are online: a
 * request is kept when it is among the slowest K seen so far this window for its route, so a
 * window with steadily rising latencies keeps more than K (bounded by maxPerWindow).
 */
export class TailSampler {
  private readonly k: number;
  private readonly windowMs: number;
  private readonly max: number;
  private window = -1;
  private kept = 0;
  /** per route: the K largest durations kept this window, ascending */
  private readonly top = new Map<string, number[]>();
  dropped = 0;

  constructor(o: TailSamplerOptions = {}) {
    this.k = o.slowestPerRoute ?? 3;
    this.windowMs = o.windowMs ?? 60_000;
    this.max = o.maxPerWindow ?? 1000;
  }

  keep(route: string, durationMs: number, error: boolean, at = Date.now()): boolean {
    const w = Math.floor(at / this.windowMs);
    if (w !== this.window) {
      this.window = w;
      this.kept = 0;
      this.top.clear();
    }
    if (this.kept >= this.max) {
      this.dropped++;
      return false;
    }
    let keep = error;
    let top = this.top.get(route);
    if (!top) {
      top = [];
      if (this.top.size < this.max) this.top.set(route, top);
    }
    if (top.length < this.k) {
      top.push(durationMs);
      top.sort((a, b) => a - b);
      keep = true;
    } else if (durationMs > top[0]) {
      top[0] = durationMs;
      top.sort((a, b) => a - b);
      keep = true;
    }
    if (keep) this.kept++;
    return keep;
  }
}

export interface TracerOptions {
  recorder: Recorder;
  service?: string;
  instance?: string;
  sampler?: TailSamplerOptions;
  /** receives every kept trace; the SDK hands them to the OTLP trace exporter */
  onTrace?: (trace: TraceRecord) => void;
  /** spans kept per request beyond which children are counted but not stored (default 500) */
  maxSpansPerRequest?: number;
}

interface RouteHandles {
  queries: Handle;
  dbShare: Handle;
  cacheCalls: Handle;
}

export const REQUEST_DB_QUERIES = 'solemate.http.server.db.queries';
export const REQUEST_DB_TIME_SHARE = 'solemate.http.server.db.time_share';
export const REQUEST_CACHE_CALLS = 'solemate.http.server.cache.calls';

export class Tracer {
  readonly service: string;
  readonly instance: string;
  readonly sampler: TailSampler;
  private readonly onTrace: ((t: TraceRecord) => void) | undefined;
  private readonly maxSpans: number;
  private readonly queries;
  private readonly dbShare;
  private readonly cacheCalls;
  private readonly routeHandles = new Map<string, RouteHandles>();
  /** traces kept and handed on */
  kept = 0;

  constructor(o: TracerOptions) {
    this.service = o.service ?? o.recorder.service;
    this.instance = o.instance ?? o.recorder.instance;
    this.sampler = new TailSampler(o.sampler);
    this.onTrace = o.onTrace;
    this.maxSpans = o.maxSpansPerRequest ?? 500;
    this.queries = o.recorder.histogram(REQUEST_DB_QUERIES, { unit: '{query}', description: 'Database queries made while serving one request' });
    this.dbShare = o.recorder.histogram(REQUEST_DB_TIME_SHARE, { unit: '1', description: 'Share of a request’s duration spent waiting for the database (0–1)' });
    this.cacheCalls = o.recorder.histogram(REQUEST_CACHE_CALLS, { unit: '{call}', description: 'Cache calls made while serving one request' });
  }

  /** Opens the server span of a request, continuing the caller's trace when `traceparent` is valid. */
  startRequest(name: string, traceparent?: unknown, attributes: SpanAttributes = {}): RequestContext {
    const parent = parseTraceparent(traceparent);
    const root: SpanData = {
      traceId: parent?.traceId ?? randomHex(16),
      spanId: randomHex(8),
      parentSpanId: parent?.parentSpanId,
      name,
      kind: 'server',
      start: now(),
      duration: -1,
      attributes,
      status: 'unset',
    };
    return new RequestContext(root);
  }

  /** Runs `fn` with `ctx` as the current request for everything it starts, sync or async. */
  run<T>(ctx: RequestContext, fn: () => T): T {
    return storage.run(ctx.frame, fn);
  }

  /** Makes `ctx` current for the rest of this synchronous run and what it starts (frameworks whose hooks cannot wrap the handler). */
  enter(ctx: RequestContext): void {
    storage.enterWith(ctx.frame);
  }

  /**
   * Closes the request: records its per-route counts, then offers the trace to the sampler.
   * `route` is the template ("/products/:id"); `error` the exception class or status class; `url`
   * the request's path and query, kept on a kept trace only as its hash (ATTR_URL_KEY).
   */
  endRequest(ctx: RequestContext, method: string, route: string | undefined, status: number, error?: string, url?: string): void {
    const root = ctx.root;
    if (root.duration >= 0) return;
    root.duration = now() - root.start;
    ctx.route = route;
    const r = route ?? '(unmatched)';
    root.name = `${method} ${route ?? ''}`.trim();
    root.attributes['http.request.method'] = method;
    if (route !== undefined) root.attributes['http.route'] = route;
    root.attributes['http.response.status_code'] = status;
    root.attributes['solemate.db.queries'] = ctx.dbCalls;
    root.attributes['solemate.db.time_ms'] = round3(ctx.dbMs);
    if (ctx.cacheCalls) root.attributes['solemate.cache.calls'] = ctx.cacheCalls;
    const failed = error !== undefined || status >= 500;
    if (failed) {
      root.status = 'error';
      root.statusMessage = error ?? String(status);
      root.attributes['error.type'] = error ?? String(status);
    }
    const key = `${method} ${r}`;
    let h = this.routeHandles.get(key);
    if (!h) {
      const attrs = route === undefined ? { 'http.request.method': method } : { 'http.request.method': method, 'http.route': route };
      h = { queries: this.queries.bind(attrs), dbShare: this.dbShare.bind(attrs), cacheCalls: this.cacheCalls.bind(attrs) };
      if (this.routeHandles.size < 4096) this.routeHandles.set(key, h);
    }
    h.queries.record(ctx.dbCalls);
    h.cacheCalls.record(ctx.cacheCalls);
    // db time can exceed the request's own duration when queries run in parallel; the share is of wall time
    if (root.duration > 0) h.dbShare.record(Math.min(1, ctx.dbMs / root.duration));
    if (this.onTrace && this.sampler.keep(key, root.duration, failed || ctx.childError !== undefined)) {
      this.kept++;
      if (url !== undefined) root.attributes[ATTR_URL_KEY] = urlKey(method, url);
      this.onTrace({ service: this.service, instance: this.instance, spans: ctx.spans });
    }
  }

  /**
   * Starts a child span of the current request (a query, a cache command, an outgoing call).
   * Returns undefined outside a request: the caller still records its metrics.
   */
  startSpan(name: string, kind: SpanKind, attributes: SpanAttributes): SpanData | undefined {
    const frame = storage.getStore();
    if (!frame) return undefined;
    const ctx = frame.ctx;
    const span: SpanData = { traceId: ctx.root.traceId, spanId: randomHex(8), parentSpanId: frame.parent.spanId, name, kind, start: now(), duration: -1, attributes, status: 'unset' };
    if (ctx.spans.length < this.maxSpans) ctx.spans.push(span);
    return span;
  }

  /** Runs `fn` inside an internal span (for app code that wants its own steps in the tree). */
  withSpan<T>(name: string, fn: () => T, attributes: SpanAttributes = {}): T {
    const frame = storage.getStore();
    const span = this.startSpan(name, 'internal', attributes);
    if (!frame || !span) return fn();
    return storage.run({ ctx: frame.ctx, parent: span }, () => {
      try {
        const out = fn();
        if (out instanceof Promise) return out.then((v) => (endSpan(span), v), (e) => (endSpan(span, e), Promise.reject(e))) as T;
        endSpan(span);
        return out;
      } catch (e) {
        endSpan(span, e);
        throw e;
      }
    });
  }
}

/** Ends a span; an error marks it failed with the error's class name. */
export function endSpan(span: SpanData | undefined, error?: unknown): void {
  if (!span || span.duration >= 0) return;
  span.duration = now() - span.start;
  if (error !== undefined) {
    span.status = 'error';
    span.statusMessage = errorType(error);
    span.attributes['error.type'] = errorType(error);
  }
}

/** error.type as the semantic conventions want it: the exception's class name. */
export function errorType(e: unknown): string {
  if (e instanceof Error) return e.constructor.name || e.name || 'Error';
  return typeof e;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The first 13 hex digits of SHA-1 over "METHOD url" (computed for kept traces only). */
export function urlKey(method: string, url: string): string {
  return crypto.createHash('sha1').update(`${method} ${url}`).digest('hex').slice(0, 13);
}
