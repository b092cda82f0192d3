// Express middleware (4 and 5): app.use(expressMetrics(perf)) first, before the routes.
// Per request: a timestamp, the method and the request's size kept with the connection
// (OpenRequests), and at the response's finish — Node's http.server.response.finish channel, one
// subscriber per middleware (removed when the middleware is garbage-collected) rather than a
// listener and a closure per response — the route and status, and three records. With tracing on
// (a PerformanceService with monitoring.tracing, or options.tracer) the rest of the request runs in
// its request context (sdk/tracing.ts). It never adds a property to req or res: Express swaps their
// prototypes per request, and a property added after that costs V8 more than all of our work
// (bench/middleware-instructions.ts).
//
// Hand-off: a router layer by itself — a middleware that only calls next() — costs 2–5% of an
// Express hello world's instructions, more than all of our own work. So when the first request
// shows that nothing can tell the difference — the middleware is the app's first layer, mounted at
// its root, and the server calls the app directly — the middleware takes its layer out of the app's
// router and begins the following requests from Node's http.server.request.start channel instead,
// as instrumentHttpServer does: the same series, the same request context, no layer
// (docs/decisions.md). `handOff: false` keeps the layer.
import dc from 'node:diagnostics_channel';
import { IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Recorder } from '../sdk/recorder.js';
import type { PerformanceService } from '../sdk/performance-service.js';
import type { RequestContext } from '../sdk/tracing.js';
import { HttpServerMetrics, OpenRequests, requestBeginner, requestFinisher, requestStarter, tracerFor, type HttpInstrumentationOptions } from './http-server.js';
import { expressRouter, mountedAtRoot, type ExpressLayer, type ExpressRequest } from './source.js';

type Req = ExpressRequest & { app?: unknown; socket: Socket & { server?: Server } };

export interface ExpressMetricsOptions extends HttpInstrumentationOptions {
  /**
   * After the first request, take the middleware's layer out of the app's router and measure through
   * Node's HTTP channels — only when it is the app's first layer, mounted at the root of an app a
   * server calls directly (default true; false keeps the layer)
   */
  handOff?: boolean;
}

const START = 'http.server.request.start';
const FINISH = 'http.server.response.finish';

/** What a middleware subscribed, for unsubscribing once it is collected. */
interface Subscriptions {
  finish: (message: unknown) => void;
  start?: (message: unknown) => void;
}

export function expressMetrics(source: Recorder | PerformanceService, options: ExpressMetricsOptions = {}) {
  const metrics = new HttpServerMetrics(source);
  const tracer = tracerFor(source, options);
  const open = new OpenRequests(requestFinisher(metrics, tracer));
  const subscriptions: Subscriptions = { finish: open.onFinish };
  dc.subscribe(FINISH, open.onFinish);
  const begin = requestBeginner(metrics, tracer, open, options);
  let decided = options.handOff === false;
  let handedOff = false;
  const middleware = function solematePerformance(req: Req, res: ServerResponse, next: (err?: unknown) => void): void {
    // after the hand-off, a layer left in another router's stack: the channel began this request
    if (handedOff && open.has(req.socket, req)) return next();
    let ctx: RequestContext | undefined;
    try {
      ctx = begin(req.socket, req, res);
      if (!decided) {
        decided = true;
        const app = req.app;
        if (removeLayer(req, middleware)) {
          // the app keeps the middleware (and so its subscriptions) alive once no layer holds it
          keptByApp.set(app as object, middleware);
          subscriptions.start = requestStarter(begin, tracer, notServing(new WeakRef(app as object)));
          dc.subscribe(START, subscriptions.start);
          handedOff = true;
        }
      }
    } catch {
      // monitoring never breaks a request
    }
    if (ctx) tracer!.run(ctx, next);
    else next();
  };
  // a middleware has no close: once the app that held it is gone, so are its subscribers
  unsubscribeWhenCollected.register(middleware, subscriptions);
  return middleware;
}

const unsubscribeWhenCollected = new FinalizationRegistry<Subscriptions>((s) => {
  dc.unsubscribe(FINISH, s.finish);
  if (s.start) dc.unsubscribe(START, s.start);
});
const keptByApp = new WeakMap<object, object>();

/** Express 4's own first layers, which every request passes (query parsing, prototype set-up). */
const EXPRESS4_INIT = new Set(['query', 'expressInit']);

/**
 * Takes the middleware's layer out of the router of the app handling `req` when nothing can tell:
 * it is the app's first layer (after Express 4's own), at the root, and a server calls the app
 * directly, not through a parent app — every request it would begin then starts on that server.
 * The router gets a new stack array: requests being routed keep the one they started with.
 */
function removeLayer(req: Req, middleware: unknown): boolean {
  const app = req.app;
  const server = req.socket.server;
  const router = expressRouter(app);
  if (!router || !(req instanceof IncomingMessage) || !server || !callsDirectly(server, app)) return false;
  const stack = router.stack;
  const i = stack.findIndex((l) => l.handle === middleware);
  const atRoot = (l: ExpressLayer) => l.route === undefined && mountedAtRoot(l);
  if (i < 0 || !atRoot(stack[i]) || !stack.slice(0, i).every((l) => atRoot(l) && EXPRESS4_INIT.has(l.name ?? ''))) return false;
  router.stack = stack.filter((_, j) => j !== i);
  return true;
}

/** Whether the server hands its requests to the app itself (not through a parent app or a wrapper). */
const callsDirectly = (server: Server, app: unknown): boolean => server.listeners('request').includes(app as never);

/**
 * The hand-off's server filter: true for a server that does not call the app directly. Decided once
 * per server and kept on it (servers are few and long-lived; their shape is not swapped per request);
 * the app is held weakly, so the channel subscription does not keep it alive.
 */
function notServing(app: WeakRef<object>): (server: Server) => boolean {
  const key = Symbol('solemate.express.serves');
  return (server) => {
    const s = server as Server & Record<symbol, boolean | undefined>;
    let serves = s[key];
    if (serves === undefined) {
      const a = app.deref();
      s[key] = serves = a !== undefined && callsDirectly(server, a);
    }
    return !serves;
  };
}
