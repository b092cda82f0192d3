// What Express and Fastify instrumentation share: the OpenTelemetry HTTP server instruments and a
// cache of bound handles per (method, route, status), so a request costs one Map lookup and three
// records. Routes are templates ("/products/:id"), never raw URLs, so cardinality stays bounded.
import type { Handle } from '../sdk/recorder.js';
import type { Tracer } from '../sdk/tracing.js';
import { recorderOf, tracerOf, type Source } from './source.js';
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

/** Methods kept as they are; anything else is recorded as _OTHER (semconv), so junk methods cannot add series. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

interface Handles {
  duration: Handle;
  requestSize: Handle;
  responseSize: Handle;
}

export class HttpServerMetrics {
  private readonly handles = new Map<string, Handles>();
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
   * @param errorType exception class name when the handler threw
   */
  finished(method: string, route: string | undefined, status: number, seconds: number, requestBytes: unknown, responseBytes: unknown, errorType?: string): void {
    this.active.record(--this.inflight);
    const m = KNOWN_METHODS.has(method) ? method : '_OTHER';
    const err = errorType ?? (status >= 500 ? String(status) : undefined);
    const key = `${m} ${status} ${err ?? ''} ${route ?? '\u0000'}`;
    let h = this.handles.get(key);
    if (!h) {
      const attrs: Record<string, string> = { [ATTR_METHOD]: m, [ATTR_STATUS]: String(status) };
      if (route !== undefined) attrs[ATTR_ROUTE] = route;
      if (err !== undefined) attrs[ATTR_ERROR_TYPE] = err;
      h = { duration: this.duration.bind(attrs), requestSize: this.requestSize.bind(attrs), responseSize: this.responseSize.bind(attrs) };
      // the recorder caps series per metric; this cache is capped the same way
      if (this.handles.size < 4096) this.handles.set(key, h);
    }
    h.duration.record(seconds);
    const rq = Number(requestBytes);
    if (rq > 0) h.requestSize.record(rq);
    const rs = Number(responseBytes);
    if (rs >= 0 && responseBytes !== undefined) h.responseSize.record(rs);
  }
}
