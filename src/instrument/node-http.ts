// Process-wide HTTP server instrumentation through Node's diagnostics channels
// (http.server.request.start / http.server.response.finish): no middleware layer, no listener per
// request, nothing written to req or res. It sees every http.Server in the process: Express (the
// route template comes from req.route once the router has matched), plain http, and anything built
// on them. Per request it keeps one small record in a WeakMap keyed by the response; requests whose
// client goes away before the response finishes are counted when their connection closes (one
// listener per connection, not per request).
//
//   const undo = instrumentHttpServer(perf)       // before or after app.listen()
//
// Measured against the middleware in bench/middleware.ts: on an Express hello world it costs less
// than app.use(expressMetrics(perf)), whose router layer and per-request 'close' listener are
// themselves a large part of the cost of so small a request.
import dc from 'node:diagnostics_channel';
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Recorder } from '../sdk/recorder.js';
import type { PerformanceService } from '../sdk/performance-service.js';
import type { RequestContext } from '../sdk/tracing.js';
import { HttpServerMetrics, tracerFor, type HttpInstrumentationOptions } from './http-server.js';
import { expressRoute, type ExpressRequest } from './source.js';

type Req = ExpressRequest;

interface Pending {
  start: number;
  method: string;
  requestBytes: unknown;
  ctx: RequestContext | undefined;
}

export interface HttpServerInstrumentationOptions extends HttpInstrumentationOptions {
  /** measure only these servers (default: every server in the process) */
  servers?: Server[];
  /** servers not to measure (the performance server itself, when it runs in the same process) */
  exclude?: Server[];
}

export function instrumentHttpServer(source: Recorder | PerformanceService, options: HttpServerInstrumentationOptions = {}): () => void {
  const metrics = new HttpServerMetrics(source);
  const tracer = tracerFor(source, options);
  const pending = new WeakMap<ServerResponse, Pending>();
  const sockets = new WeakSet<Socket>();
  const excluded = new WeakSet<Server>(options.exclude ?? []);
  const only = options.servers ? new WeakSet<Server>(options.servers) : undefined;

  const finish = (req: Req, res: ServerResponse, p: Pending, status: number) => {
    pending.delete(res);
    try {
      const route = expressRoute(req);
      metrics.finished(p.method, route, status, (performance.now() - p.start) / 1000, p.requestBytes, res.getHeader('content-length'));
      if (p.ctx) tracer!.endRequest(p.ctx, p.method, route, status, undefined, req.originalUrl ?? req.url);
    } catch {
      // monitoring never breaks a response
    }
  };

  const onStart = (message: unknown) => {
    const { request, response, socket, server } = message as { request: Req; response: ServerResponse; socket: Socket; server: Server };
    if (excluded.has(server) || (only && !only.has(server))) return;
    try {
      const method = request.method ?? 'GET';
      const p: Pending = { start: performance.now(), method, requestBytes: request.headers['content-length'], ctx: undefined };
      pending.set(response, p);
      metrics.started();
      if (!sockets.has(socket)) {
        sockets.add(socket);
        // a client that disconnects mid-request: its response never finishes
        socket.once('close', () => {
          const res = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
          const open = res && pending.get(res);
          if (res && open) finish(res.req as Req, res, open, 499);
        });
      }
      if (tracer) {
        p.ctx = tracer.startRequest('HTTP', request.headers.traceparent);
        // the 'request' event is emitted right after this, in the same synchronous run
        tracer.enter(p.ctx);
      }
    } catch {
      // ditto
    }
  };
  const onFinish = (message: unknown) => {
    const { request, response } = message as { request: Req; response: ServerResponse };
    const p = pending.get(response);
    if (p) finish(request, response, p, response.statusCode);
  };
  dc.subscribe('http.server.request.start', onStart);
  dc.subscribe('http.server.response.finish', onFinish);
  return () => {
    dc.unsubscribe('http.server.request.start', onStart);
    dc.unsubscribe('http.server.response.finish', onFinish);
  };
}
