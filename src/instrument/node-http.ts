// Process-wide HTTP server instrumentation through Node's diagnostics channels
// (http.server.request.start / http.server.response.finish): no middleware layer, no listener per
// request, nothing written to req or res. It sees every http.Server in the process: Express (the
// route template comes from req.route once the router has matched), plain http, and anything built
// on them. Requests in flight are kept per connection (OpenRequests): nothing is written to req or
// res, no WeakMap entry, no listener per request. Requests whose client goes away before the
// response finishes are counted when their connection closes.
//
//   const undo = instrumentHttpServer(perf)       // before or after app.listen()
//
// app.use(expressMetrics(perf)), first in an app, hands off to the same channels after its first
// request (src/instrument/express.ts): a router layer is by itself a large part of the cost of so
// small a request (bench/middleware-instructions.ts: a no-op middleware adds 2–5%).
import dc from 'node:diagnostics_channel';
import type { Server } from 'node:http';
import type { Recorder } from '../sdk/recorder.js';
import type { PerformanceService } from '../sdk/performance-service.js';
import { HttpServerMetrics, OpenRequests, requestBeginner, requestFinisher, requestStarter, tracerFor, type HttpInstrumentationOptions } from './http-server.js';

export interface HttpServerInstrumentationOptions extends HttpInstrumentationOptions {
  /** measure only these servers (default: every server in the process) */
  servers?: Server[];
  /** servers not to measure (the performance server itself, when it runs in the same process) */
  exclude?: Server[];
}

export function instrumentHttpServer(source: Recorder | PerformanceService, options: HttpServerInstrumentationOptions = {}): () => void {
  const metrics = new HttpServerMetrics(source);
  const tracer = tracerFor(source, options);
  const excluded = new WeakSet<Server>(options.exclude ?? []);
  const only = options.servers ? new WeakSet<Server>(options.servers) : undefined;
  const skip = options.exclude || only ? (server: Server) => excluded.has(server) || (only !== undefined && !only.has(server)) : undefined;

  const open = new OpenRequests(requestFinisher(metrics, tracer));

  const onStart = requestStarter(requestBeginner(metrics, tracer, open, options), tracer, skip);
  const onFinish = open.onFinish;
  dc.subscribe('http.server.request.start', onStart);
  dc.subscribe('http.server.response.finish', onFinish);
  return () => {
    dc.unsubscribe('http.server.request.start', onStart);
    dc.unsubscribe('http.server.response.finish', onFinish);
  };
}
