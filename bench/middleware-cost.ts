// The middleware's own cost per request, in process, no network: what it adds on top of whatever
// the framework and the socket cost. Beside express-prom-bundle's middleware measured the same way.
// (OpenTelemetry's instrumentation patches http itself and cannot be isolated like this.)
//   node --import tsx bench/middleware-cost.ts
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Recorder } from '../src/sdk/recorder.js';
import { expressMetrics } from '../src/instrument/express.js';
import { fmt, machine, nsPerOp, save, table } from './lib.js';

const require = createRequire(import.meta.url);
// Real request/response objects, with the per-request prototype swap Express does
// (Object.setPrototypeOf(res, app.response)): costs that only appear on such objects show here.
const appRequest = Object.create(http.IncomingMessage.prototype, { route: { value: { path: '/hello/:name' }, writable: true }, baseUrl: { value: '', writable: true } });
const appResponse = Object.create(http.ServerResponse.prototype, { app: { value: {}, writable: true } });
type Mw = (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void;
const next = () => {};
// one keep-alive connection that every request comes over
const socket = new net.Socket();
const finished = dc.channel('http.server.response.finish');
// A request's life as the middleware sees it: called, then the response finishes (Node publishes
// the finish on its diagnostics channel, then emits 'finish') and closes.
const cost = (mw: Mw) => nsPerOp(() => {
  const req = new http.IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/hello/world';
  (req as { originalUrl?: string }).originalUrl = '/hello/world';
  Object.setPrototypeOf(req, appRequest);
  const res = new http.ServerResponse(req);
  Object.setPrototypeOf(res, appResponse);
  res.setHeader('content-length', '11');
  mw(req, res, next);
  if (finished.hasSubscribers) finished.publish({ request: req, response: res, socket, server: null });
  res.emit('finish');
  res.emit('close');
}, 100_000, 9);

const base = cost(() => {});
const promBundle = cost(require('express-prom-bundle')({ includeMethod: true, includePath: true, includeStatusCode: true, autoregister: false })) - base;
// last: its finish subscriber stays for the rest of the process
const recorder = new Recorder({ onWarning: () => {} });
const ours = cost(expressMetrics(recorder)) - base;
const recorded = recorder.collect().find((p) => p.metric === 'http.server.request.duration' && p.attributes['http.route'] === '/hello/:name')?.count ?? 0;
if (recorded < 100_000) throw new Error(`expressMetrics recorded ${recorded} requests: the bench does not drive it as Node would`);
save('middleware-cost', { oursNs: ours, promBundleNs: promBundle });
console.log(`machine: ${machine()}\n`);
console.log(table(['middleware', 'own cost per request (ns, median of 9)'], [['solemate-performance expressMetrics', fmt(ours, 0)], ['express-prom-bundle 8', fmt(promBundle, 0)]]));
