// What Express and Fastify instrumentation share: the OpenTelemetry HTTP server instruments and a
// cache of bound handles per (method, route, status), so a request costs two Map lookups and three
// records. Routes are templates ("/products/:id"), never raw URLs, so cardinality stays bounded.
import { OutgoingMessage, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Handle } from '../sdk/recorder.js';
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
const METHODS = ['_OTHER', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const METHOD_INDEX = new Map(METHODS.slice(1).map((m, i) => [m, i + 1]));

interface Handles {
  duration: Handle;
  requestSize: Handle;
  responseSize: Handle;
}

export class HttpServerMetrics {
  // route → (status × 16 + method index) → handles: no key string is built per request
  private readonly handles = new Map<string | undefined, Map<number, Handles>>();
  private cached = 0;
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
   * @param seconds request duration
   * @param route route template, or undefined when no route matched
   */
  finished(method: string, route: string | undefined, status: number, seconds: number, requestBytes: unknown, responseBytes: unknown): void {
    this.active.record(--this.inflight);
    const mi = METHOD_INDEX.get(method) ?? 0;
    let perRoute = this.handles.get(route);
    let h = perRoute?.get(status * 16 + mi);
    if (!h) {
      const attrs: Record<string, string> = { [ATTR_METHOD]: METHODS[mi], [ATTR_STATUS]: String(status) };
      if (route !== undefined) attrs[ATTR_ROUTE] = route;
      if (status >= 500) attrs[ATTR_ERROR_TYPE] = String(status);
      h = { duration: this.duration.bind(attrs), requestSize: this.requestSize.bind(attrs), responseSize: this.responseSize.bind(attrs) };
      // the recorder caps series per metric; this cache is capped the same way
      if (this.cached < 4096) {
        this.cached++;
        if (!perRoute) this.handles.set(route, (perRoute = new Map()));
        perRoute.set(status * 16 + mi, h);
      }
    }
    h.duration.record(seconds);
    const rq = Number(requestBytes);
    if (rq > 0) h.requestSize.record(rq);
    const rs = Number(responseBytes);
    if (rs >= 0 && responseBytes !== undefined) h.responseSize.record(rs);
  }
}

/**
 * Records a finished request and ends its trace; the route is Express's template when a router
 * matched (a mounted router leaves req.baseUrl set while its handler answers, so it is the full one).
 */
export function requestFinisher(metrics: HttpServerMetrics, tracer: Tracer | undefined): RequestFinisher {
  return (req, res, start, ctx, status) => {
    try {
      const route = expressRoute(req);
      const method = req.method ?? 'GET';
      metrics.finished(method, route, status, (performance.now() - start) / 1000, req.headers['content-length'], res && getHeader.call(res, 'content-length'));
      if (ctx) tracer!.endRequest(ctx, method, route, status, undefined, read(req, 'originalUrl') ?? read(req, 'url'));
    } catch {
      // monitoring never breaks a response
    }
  };
}

// Node's own, not looked up on res: Express gives every response a hidden class of its own, and a
// lookup on one misses V8's caches (see read() in source.ts)
const getHeader = OutgoingMessage.prototype.getHeader;

export type RequestFinisher = (req: ExpressRequest, res: ServerResponse | undefined, start: number, ctx: RequestContext | undefined, status: number) => void;

/** Begins a request: returns its trace context (not entered), or undefined without a tracer. */
export type RequestBeginner = (socket: Socket, req: IncomingMessage, res: ServerResponse) => RequestContext | undefined;

/**
 * How the middleware and the request.start channel begin a request: its start time, its trace, its
 * place on the connection (OpenRequests), the in-flight gauge, and `Server-Timing` when asked for.
 */
export function requestBeginner(metrics: HttpServerMetrics, tracer: Tracer | undefined, open: OpenRequests, options: HttpInstrumentationOptions): RequestBeginner {
  const serverTiming = options.serverTiming === true;
  return (socket, req, res) => {
    const start = performance.now();
    const ctx = tracer?.startRequest('HTTP', req.headers.traceparent);
    open.begin(socket, req, start, ctx);
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

/** A request between its start and its finish: when it started, and its trace context. */
export interface OpenRequest {
  req: IncomingMessage | undefined;
  start: number;
  ctx: RequestContext | undefined;
}

/** What one connection carries: the request being answered, and any pipelined behind it. */
interface Connection {
  head: OpenRequest;
  queued: OpenRequest[] | undefined;
}

/**
 * Requests in flight, kept per connection on the socket — whose prototype nobody swaps, unlike
 * Express's req and res, where a property added costs V8 more than all of our work
 * (bench/middleware-instructions.ts). One object per connection whose fields are rewritten per
 * request: no allocation, no map lookup. HTTP/1.1 answers pipelined requests in order, so a queue
 * matches starts to finishes; a request that was not begun here (an excluded path) matches nothing.
 * Each request is handed to `finish` once: from `onFinish` (subscribe it to Node's
 * http.server.response.finish channel) with the response's status, or — a client that went away
 * mid-request — as 499 when its connection closes (one listener per connection, not per request).
 */
export class OpenRequests {
  // one symbol per instance, so two instrumentations (two recorders) keep their own state
  private readonly key = Symbol('solemate.http.connection');
  private readonly found: OpenRequest = { req: undefined, start: 0, ctx: undefined };

  constructor(private readonly finish: RequestFinisher) {}

  /** The http.server.response.finish subscriber: a request begun here is finished with its status. */
  readonly onFinish = (message: unknown): void => {
    const { request, response, socket } = message as { request: ExpressRequest; response: ServerResponse; socket: Socket };
    const o = this.end(socket, request);
    if (o) this.finish(request, response, o.start, o.ctx, read(response, 'statusCode'));
  };

  begin(socket: Socket, req: IncomingMessage, start: number, ctx: RequestContext | undefined): void {
    const s = socket as Socket & Record<symbol, Connection | undefined>;
    let c = s[this.key];
    if (c === undefined) {
      const conn: Connection = (c = { head: { req, start: -1, ctx: undefined }, queued: undefined });
      s[this.key] = conn;
      socket.once('close', () => this.closed(socket, conn));
    }
    if (c.head.start < 0) {
      c.head.req = req;
      c.head.start = start;
      c.head.ctx = ctx;
    } else (c.queued ??= []).push({ req, start, ctx });
  }

  /** Whether this request was begun here and has not finished. */
  has(socket: Socket, req: IncomingMessage): boolean {
    const c = (socket as Socket & Record<symbol, Connection | undefined>)[this.key];
    return c !== undefined && ((c.head.start >= 0 && c.head.req === req) || (c.queued?.some((o) => o.req === req) ?? false));
  }

  /**
   * The request's start and context, once; undefined when it was not begun here. The object returned
   * is reused by the next call: read it at once.
   */
  private end(socket: Socket, req: IncomingMessage): Readonly<OpenRequest> | undefined {
    const c = (socket as Socket & Record<symbol, Connection | undefined>)[this.key];
    if (c === undefined) return undefined;
    const head = c.head;
    if (head.start >= 0 && head.req === req) {
      const found = this.found; // its req stays undefined: a finished request is not kept alive here
      found.start = head.start;
      found.ctx = head.ctx;
      const next = c.queued?.shift();
      head.start = next ? next.start : -1;
      head.ctx = next?.ctx;
      head.req = next?.req; // an idle connection keeps no finished request alive
      return found;
    }
    const i = c.queued?.findIndex((o) => o.req === req) ?? -1;
    return i < 0 ? undefined : c.queued!.splice(i, 1)[0];
  }

  private closed(socket: Socket, c: Connection): void {
    // pipelined requests queued behind it are not counted: their handlers may not have run
    if (c.head.start >= 0) this.finish(c.head.req as ExpressRequest, (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined, c.head.start, c.head.ctx, 499);
    c.head.start = -1;
    c.head.ctx = undefined;
    c.head.req = undefined;
    c.queued = undefined;
  }
}
