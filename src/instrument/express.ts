// Express middleware (4 and 5): app.use(expressMetrics(perf)) before the routes.
// Per request: one timestamp, one closure on the response's 'close' event, and at close one Map
// lookup plus three records. With tracing on (a PerformanceService with monitoring.tracing, or
// options.tracer) the rest of the request runs in its request context (sdk/tracing.ts). It never adds a property to req or res: Express swaps their
// prototypes per request, and a property added after that turns the object into a slow
// dictionary-mode object for all of Node's HTTP code (measured: bench/middleware-cost.ts).
import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import type { Recorder } from '../sdk/recorder.js';
import type { PerformanceService } from '../sdk/performance-service.js';
import type { RequestContext } from '../sdk/tracing.js';
import { HttpServerMetrics, tracerFor, type HttpInstrumentationOptions } from './http-server.js';
import { expressRoute, type ExpressRequest } from './source.js';

type Req = ExpressRequest;

export function expressMetrics(source: Recorder | PerformanceService, options: HttpInstrumentationOptions = {}) {
  const metrics = new HttpServerMetrics(source);
  const tracer = tracerFor(source, options);
  return function solematePerformance(req: Req, res: ServerResponse, next: (err?: unknown) => void): void {
    let ctx: RequestContext | undefined;
    try {
      const start = performance.now();
      metrics.started();
      if (tracer) ctx = tracer.startRequest('HTTP', req.headers.traceparent);
      res.on('close', () => {
        try {
          // A mounted router leaves req.baseUrl set while its handler answers, so this is the full template.
          const route = expressRoute(req);
          const method = req.method ?? 'GET';
          metrics.finished(method, route, res.statusCode, (performance.now() - start) / 1000, req.headers['content-length'], res.getHeader('content-length'));
          if (ctx) tracer!.endRequest(ctx, method, route, res.writableFinished ? res.statusCode : 499, undefined, req.originalUrl ?? req.url);
        } catch {
          // monitoring never breaks a response
        }
      });
      if (options.serverTiming) addServerTiming(res, start);
    } catch {
      // ditto
    }
    if (ctx) tracer!.run(ctx, next);
    else next();
  };
}

function addServerTiming(res: ServerResponse, start: number): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (!this.headersSent) this.setHeader('Server-Timing', `app;dur=${(performance.now() - start).toFixed(1)}`);
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}
