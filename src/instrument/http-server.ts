// What Express and Fastify instrumentation share: the OpenTelemetry HTTP server instruments and a
// cache of bound handles per (method, route, status) — the last used first, then two Map lookups —
// so a request costs a few comparisons and three records. Routes are templates ("/products/:id"),
// never raw URLs, so cardinality stays bounded. At an app's request rate our state is out of the
// CPU's caches from one request to the next, so what a request costs us is mostly how many places
// in memory it touches (docs/benchmarks.md, "Fewer places in memory per request"): few objects, read once.
import { OutgoingMessage, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Handle } from '../sdk/series.js';
import type { RequestContext, Tracer } from '../sdk/tracing.js';
import { expressRoute, read, recorderOf, tracerOf, type ExpressRequest, type Source } from './source.js';
import { ATTR_ERROR_TYPE, ATTR_METHOD, ATTR_ROUTE, ATTR_STATUS, HTTP_SERVER_ACTIVE, HTTP_SERVER_DURATION, HTTP_SERVER_REQUEST_SIZE, HTTP_SERVER_RESPONSE_SIZE } from '../semconv.js';

export interface HttpInstrumentationOptions {
  /** add `Server-Timing: app;dur=<ms>` to responses (default false: it reveals server timing to clients) */
  serverTiming?: boolean;
  /** trace requests with this tracer (default: the PerformanceService's own, when tracing is on) */
  tracer?: Tracer;
  /** false turns request tracing off even when the service has a tracer */
  tracing?: boolean;
}

export function tracerFor(source: Source, options: HttpInstrumentationOptions): Tracer | undefined {
  return options.tracing === false ? undefined : tracerOf(source, options.tracer);
}

/** Methods kept as they are, by index; anything else is recorded as _OTHER (semconv, index 0), so junk methods cannot add series. */
export const METHODS: readonly string[] = ['_OTHER', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** The method's index in METHODS (kept in step with it by a test); Node's parser hands out its method names as constants, so this compares pointers and reads no table. */
export function methodIndex(method: unknown): number {
  switch (method) {
    case 'GET':
      return 1;
    case 'HEAD':
      return 2;
    case 'POST':
      return 3;
    case 'PUT':
      return 4;
    case 'DELETE':
      return 5;
    case 'CONNECT':
      return 6;
    case 'OPTIONS':
      return 7;
    case 'TRACE':
      return 8;
    case 'PATCH':
      return 9;
    default:
      return 0;
  }
}

/**
 * The request's Content-Length from its raw headers, or -1: read when it starts, before anything
 * builds req.headers (Node builds that object on first use; a plain http app may never use it).
 */
export function requestContentLength(req: IncomingMessage): number {
  const raw = req.rawHeaders as string[] | undefined; // a test's stand-in for a request may have none
  if (raw === undefined) return -1;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (k.length === 14 && k.toLowerCase() === 'content-length') {
      const n = Number(raw[i + 1]);
      return n >= 0 ? n : -1;
    }
  }
  return -1;
}

interface Handles {
  duration: Handle;
  requestSize: Handle;
  responseSize: Handle;
}

export class HttpServerMetrics {
  // route → (status × 16 + method index) → handles: no key string is built per request
  private readonly handles = new Map<string | undefined, Map<number, Handles>>();
  private cached = 0;
  // the handles used last, and for what: most requests repeat the one before (and a hello world
  // always does), so they skip the two Map lookups, whose tables are often out of the CPU's caches
  private lastRoute: string | undefined = undefined;
  private lastKey = -1;
  private last: Handles | undefined = undefined;
  private inflight = 0;
  private readonly active: Handle;
  private readonly duration;
  private readonly requestSize;
  private readonly responseSize;

  constructor(source: Source) {
    const recorder = recorderOf(source);
    this.duration = recorder.histogram(HTTP_SERVER_DURATION, { unit: 's', description: 'Duration of HTTP server requests' });
    this.requestSize = recorder.histogram(HTTP_SERVER_REQUEST_SIZE, { unit: 'By', description: 'Size of HTTP request bodies (Content-Length)' });
    this.responseSize = recorder.histogram(HTTP_SERVER_RESPONSE_SIZE, { unit: 'By', description: 'Size of HTTP response bodies (Content-Length)' });
    this.active = recorder.gauge(HTTP_SERVER_ACTIVE, { unit: '{request}', description: 'Requests in flight' }).bind();
  }

  started(): void {
    this.active.record(++this.inflight);
  }

  /**
   * @param mi the method's index (methodIndex)
   * @param route route template, or undefined when no route matched
   * @param seconds request duration
   * @param requestBytes the request's Content-Length, recorded when above 0
   * @param responseBytes the response's Content-Length header, as set
   */
  finished(mi: number, route: string | undefined, status: number, seconds: number, requestBytes: number, responseBytes: unknown): void {
    this.active.record(--this.inflight);
    const key = status * 16 + mi;
    let h = this.last;
    if (key !== this.lastKey || route !== this.lastRoute || h === undefined) {
      h = this.lookUp(route, key, mi, status);
      this.last = h;
      this.lastKey = key;
      this.lastRoute = route;
    }
    h.duration.record(seconds);
    if (requestBytes > 0) h.requestSize.record(requestBytes);
    const rs = Number(responseBytes);
    if (rs >= 0 && responseBytes !== undefined) h.responseSize.record(rs);
  }

  private lookUp(route: string | undefined, key: number, mi: number, status: number): Handles {
    let perRoute = this.handles.get(route);
    let h = perRoute?.get(key);
    if (!h) {
      const attrs: Record<string, string> = { [ATTR_METHOD]: METHODS[mi], [ATTR_STATUS]: String(status) };
      if (route !== undefined) attrs[ATTR_ROUTE] = route;
      if (status >= 500) attrs[ATTR_ERROR_TYPE] = String(status);
      h = { duration: this.duration.bind(attrs), requestSize: this.requestSize.bind(attrs), responseSize: this.responseSize.bind(attrs) };
      // the recorder caps series per metric; this cache is capped the same way
      if (this.cached < 4096) {
        this.cached++;
        if (!perRoute) this.handles.set(route, (perRoute = new Map()));
        perRoute.set(key, h);
      }
    }
    return h;
  }
}

/**
 * Records a finished request and ends its trace; the route is Express's template when a router
 * matched (a mounted router leaves req.baseUrl set while its handler answers, so it is the full one).
 */
export function requestFinisher(metrics: HttpServerMetrics, tracer: Tracer | undefined): RequestFinisher {
  return (req, res, o, status) => {
    try {
      const route = expressRoute(req);
      metrics.finished(o.method, route, status, (performance.now() - o.start) / 1000, o.bytes, res && getHeader.call(res, 'content-length'));
      if (o.ctx) tracer!.endRequest(o.ctx, read(req, 'method') ?? 'GET', route, status, undefined, read(req, 'originalUrl') ?? read(req, 'url'));
    } catch {
      // monitoring never breaks a response
    }
  };
}

// Node's own, not looked up on res: Express gives every response a hidden class of its own, and a
// lookup on one misses V8's caches (see read() in source.ts)
const getHeader = OutgoingMessage.prototype.getHeader;

/** Finishes a request with what was kept of it when it started (read `o` at once: it is reused). */
export type RequestFinisher = (req: ExpressRequest, res: ServerResponse | undefined, o: Readonly<OpenRequest>, status: number) => void;

/** Begins a request: returns its trace context (not entered), or undefined without a tracer. */
export type RequestBeginner = (socket: Socket, req: IncomingMessage, res: ServerResponse) => RequestContext | undefined;

/**
 * How the middleware and the request.start channel begin a request: its start time, method and
 * size, its trace, its place on the connection (OpenRequests), the in-flight gauge, and
 * `Server-Timing` when asked for.
 */
export function requestBeginner(metrics: HttpServerMetrics, tracer: Tracer | undefined, open: OpenRequests, options: HttpInstrumentationOptions): RequestBeginner {
  const serverTiming = options.serverTiming === true;
  return (socket, req, res) => {
    const start = performance.now();
    const ctx = tracer?.startRequest('HTTP', req.headers.traceparent);
    // the method and size are read now: from the request.start channel, req is still Node's own
    // object, whose reads V8 has cached (Express's, at the finish, each have a hidden class of their own)
    open.begin(socket, req, start, methodIndex(req.method), requestContentLength(req), ctx);
    metrics.started();
    if (serverTiming) addServerTiming(res, start);
    return ctx;
  };
}

/**
 * A subscriber for Node's http.server.request.start channel: begins each request and enters its
 * trace, so that the 'request' event Node emits right after, in the same synchronous run, runs in
 * it — unless `skip` says its server is not measured.
 */
export function requestStarter(begin: RequestBeginner, tracer: Tracer | undefined, skip: ((server: Server) => boolean) | undefined): (message: unknown) => void {
  return (message) => {
    const { request, response, socket, server } = message as { request: IncomingMessage; response: ServerResponse; socket: Socket; server: Server };
    if (skip?.(server)) return;
    try {
      const ctx = begin(socket, request, response);
      if (ctx) tracer!.enter(ctx);
    } catch {
      // monitoring never breaks a request
    }
  };
}

/** `Server-Timing: app;dur=<ms since start>`, set when the response's head is written. */
function addServerTiming(res: ServerResponse, start: number): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (!this.headersSent) this.setHeader('Server-Timing', `app;dur=${(performance.now() - start).toFixed(1)}`);
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * A request between its start and its finish, as kept on its connection: what was read of it when
 * it started. The same class holds a connection's current request and the ones pipelined behind it.
 */
export class OpenRequest {
  req: IncomingMessage | undefined = undefined;
  /** performance.now() at its start; -1 when the slot holds no request */
  start = -1;
  /** its method's index (methodIndex) */
  method = 0;
  /** its Content-Length, -1 without one */
  bytes = -1;
  ctx: RequestContext | undefined = undefined;
  /** on a connection's slot: the requests pipelined behind this one */
  queued: OpenRequest[] | undefined = undefined;

  hold(req: IncomingMessage | undefined, start: number, method: number, bytes: number, ctx: RequestContext | undefined): this {
    this.req = req;
    this.start = start;
    this.method = method;
    this.bytes = bytes;
    this.ctx = ctx;
    return this;
  }

  /** Empties the slot: it holds no request, and keeps no finished one alive. */
  clear(): this {
    return this.hold(undefined, -1, 0, -1, undefined);
  }
}

/**
 * Requests in flight, kept per connection on the socket — whose prototype nobody swaps, unlike
 * Express's req and res, where a property added costs V8 more than all of our work
 * (bench/middleware-instructions.ts). One object per connection whose fields are rewritten per
 * request: no allocation, no map lookup, and one object's fields to read at the finish. HTTP/1.1
 * answers pipelined requests in order, so a queue matches starts to finishes; a request that was
 * not begun here (an excluded path) matches nothing. Each request is handed to `finish` once: from
 * `onFinish` (subscribe it to Node's http.server.response.finish channel) with the response's
 * status, or — a client that went away mid-request — as 499 when its connection closes (one
 * listener per connection, not per request).
 */
export class OpenRequests {
  // one symbol per instance, so two instrumentations (two recorders) keep their own state
  private readonly key = Symbol('solemate.http.connection');

  constructor(private readonly finish: RequestFinisher) {}

  /** The http.server.response.finish subscriber: a request begun here is finished with its status. */
  readonly onFinish = (message: unknown): void => {
    const { request, response, socket } = message as { request: ExpressRequest; response: ServerResponse; socket: Socket };
    const c = this.connection(socket);
    if (c === undefined) return;
    if (c.start >= 0 && c.req === request) {
      this.finish(request, response, c, read(response, 'statusCode'));
      // the next pipelined request moves up; an idle connection keeps no finished request alive
      const next = c.queued?.shift();
      if (next) c.hold(next.req, next.start, next.method, next.bytes, next.ctx);
      else c.clear();
      return;
    }
    const i = c.queued?.findIndex((o) => o.req === request) ?? -1;
    if (i >= 0) this.finish(request, response, c.queued!.splice(i, 1)[0], read(response, 'statusCode'));
  };

  begin(socket: Socket, req: IncomingMessage, start: number, method: number, bytes: number, ctx: RequestContext | undefined): void {
    let c = this.connection(socket);
    if (c === undefined) {
      const conn = (c = new OpenRequest());
      (socket as Socket & Record<symbol, OpenRequest | undefined>)[this.key] = conn;
      socket.once('close', () => this.closed(socket, conn));
    }
    if (c.start < 0) c.hold(req, start, method, bytes, ctx);
    else (c.queued ??= []).push(new OpenRequest().hold(req, start, method, bytes, ctx));
  }

  /** Whether this request was begun here and has not finished. */
  has(socket: Socket, req: IncomingMessage): boolean {
    const c = this.connection(socket);
    return c !== undefined && ((c.start >= 0 && c.req === req) || (c.queued?.some((o) => o.req === req) ?? false));
  }

  private connection(socket: Socket): OpenRequest | undefined {
    return (socket as Socket & Record<symbol, OpenRequest | undefined>)[this.key];
  }

  private closed(socket: Socket, c: OpenRequest): void {
    // pipelined requests queued behind it are not counted: their handlers may not have run
    if (c.start >= 0) this.finish(c.req as ExpressRequest, (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined, c, 499);
    c.clear();
    c.queued = undefined;
  }
}
