// Fastify plugin (4 and 5): await app.register(fastifyMetrics(perf)). It is not encapsulated, so
// it sees every route of the app.
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { Recorder } from '../sdk/recorder.js';
import type { PerformanceService } from '../sdk/performance-service.js';
import { HttpServerMetrics, methodIndex, tracerFor, type HttpInstrumentationOptions } from './http-server.js';
import type { RequestContext } from '../sdk/tracing.js';

const COUNTED = Symbol('solemate.counted');

export function fastifyMetrics(source: Recorder | PerformanceService, options: HttpInstrumentationOptions = {}): FastifyPluginCallback {
  const metrics = new HttpServerMetrics(source);
  const tracer = tracerFor(source, options);
  const contexts = new WeakMap<FastifyRequest, RequestContext>();
  const plugin: FastifyPluginCallback = (app: FastifyInstance, _opts, done) => {
    app.addHook('onRequest', (req, _reply, next) => {
      (req as unknown as Record<symbol, boolean>)[COUNTED] = true;
      metrics.started();
      if (!tracer) return next();
      const ctx = tracer.startRequest('HTTP', req.headers.traceparent);
      contexts.set(req, ctx);
      tracer.run(ctx, next);
    });
    if (tracer) {
      // body parsing runs on the socket's events, outside the context: enter it again before the handler
      app.addHook('preHandler', (req, _reply, next) => {
        const ctx = contexts.get(req);
        if (ctx) tracer.enter(ctx);
        next();
      });
    }
    const finish = (req: FastifyRequest, status: number, seconds: number, responseBytes: unknown) => {
      const r = req as unknown as Record<symbol, boolean>;
      if (!r[COUNTED]) return;
      r[COUNTED] = false;
      try {
        metrics.finished(methodIndex(req.method), req.routeOptions?.url, status, seconds, Number(req.headers['content-length']), responseBytes);
        const ctx = contexts.get(req);
        if (ctx) tracer!.endRequest(ctx, req.method, req.routeOptions?.url, status, undefined, req.url);
      } catch {
        // monitoring never breaks a response
      }
    };
    app.addHook('onResponse', (req, reply, next) => {
      finish(req, reply.statusCode, reply.elapsedTime / 1000, reply.getHeader('content-length'));
      next();
    });
    app.addHook('onRequestAbort', (req, next) => {
      finish(req, 499, 0, undefined);
      next();
    });
    if (options.serverTiming) {
      app.addHook('onSend', (_req, reply, payload, next) => {
        reply.header('Server-Timing', `app;dur=${reply.elapsedTime.toFixed(1)}`);
        next(null, payload);
      });
    }
    done();
  };
  // the documented escape from encapsulation, without a dependency on fastify-plugin
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
