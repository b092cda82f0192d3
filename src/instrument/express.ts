// Express middleware (4 and 5): app.use(expressMetrics(perf)) before the routes.
// Per request: one timestamp kept with the connection (OpenRequests), and at the response's finish —
// Node's http.server.response.finish channel, one subscriber per middleware (removed when the
// middleware is garbage-collected) rather than a listener and a closure per response — two Map
// lookups plus three records. With tracing on (a
// PerformanceService with monitoring.tracing, or options.tracer) the rest of the request runs in its
// request context (sdk/tracing.ts). It never adds a property to req or res: Express swaps their
// prototypes per request, and a property added after that costs V8 more than all of our work
// (bench/middleware-instructions.ts). instrumentHttpServer does the same without the router layer
// a middleware is, and costs less.
import dc from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import type { Recorder } from '../sdk/recorder.js';
import type { PerformanceService } from '../sdk/performance-service.js';
import type { RequestContext } from '../sdk/tracing.js';
import { HttpServerMetrics, OpenRequests, requestFinisher, tracerFor, type HttpInstrumentationOptions } from './http-server.js';
import type { ExpressRequest } from './source.js';

type Req = ExpressRequest;

export function expressMetrics(source: Recorder | PerformanceService, options: HttpInstrumentationOptions = {}) {
  const metrics = new HttpServerMetrics(source);
  const tracer = tracerFor(source, options);
  const open = new OpenRequests(requestFinisher(metrics, tracer));
  const onFinish = open.onFinish;
  dc.subscribe('http.server.response.finish', onFinish);
  const middleware = function solematePerformance(req: Req, res: ServerResponse, next: (err?: unknown) => void): void {
    let ctx: RequestContext | undefined;
    try {
      const start = performance.now();
      if (tracer) ctx = tracer.startRequest('HTTP', req.headers.traceparent);
      open.begin(req.socket, req, start, ctx);
      metrics.started();
      if (options.serverTiming) addServerTiming(res, start);
    } catch {
      // monitoring never breaks a request
    }
    if (ctx) tracer!.run(ctx, next);
    else next();
  };
  // a middleware has no close: once the app that held it is gone, so is its subscriber
  unsubscribeWhenCollected.register(middleware, onFinish);
  return middleware;
}

const unsubscribeWhenCollected = new FinalizationRegistry<(message: unknown, name: string | symbol) => void>((onFinish) => dc.unsubscribe('http.server.response.finish', onFinish));

function addServerTiming(res: ServerResponse, start: number): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (!this.headersSent) this.setHeader('Server-Timing', `app;dur=${(performance.now() - start).toFixed(1)}`);
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}
