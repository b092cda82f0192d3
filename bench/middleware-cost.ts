// The middleware's own cost per request, in process, no network: what it adds on top of whatever
// the framework and the socket cost. Beside express-prom-bundle's middleware measured the same way.
// (OpenTelemetry's instrumentation patches http itself and cannot be isolated like this.)
//   node --expose-gc --import tsx bench/middleware-cost.ts [requests per run (50000)] [rounds (15)]
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Recorder } from '../src/sdk/recorder.js';
import { expressMetrics } from '../src/instrument/express.js';
import { fmt, machine, median, save, table } from './lib.js';

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
const request = (mw: Mw, publish: boolean) => {
  const req = new http.IncomingMessage(socket);
  req.method = 'GET';
  req.url = '/hello/world';
  (req as { originalUrl?: string }).originalUrl = '/hello/world';
  Object.setPrototypeOf(req, appRequest);
  const res = new http.ServerResponse(req);
  Object.setPrototypeOf(res, appResponse);
  res.setHeader('content-length', '11');
  mw(req, res, next);
  if (publish) finished.publish({ request: req, response: res, socket, server: null });
  res.emit('finish');
  res.emit('close');
};
/** ns per request over `n` requests. */
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.error('without --expose-gc each run pays for the garbage of the one before it: the numbers vary several-fold');
const run = (mw: Mw, publish: boolean, n: number) => {
  gc?.(); // each run starts from a collected heap: one variant's garbage is not collected in another's time
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) request(mw, publish);
  return Number(process.hrtime.bigint() - t0) / n;
};

// a request costs several µs of object churn, which drifts with the heap: the variants run in
// interleaved rounds and each is read against the uninstrumented run of its own round (median of
// the differences). Only our middleware subscribes to the finish channel, so only its runs publish.
const noop: Mw = () => {};
const recorder = new Recorder({ onWarning: () => {} });
const variants: [string, Mw, boolean][] = [
  ['express-prom-bundle 8', require('express-prom-bundle')({ includeMethod: true, includePath: true, includeStatusCode: true, autoregister: false }), false],
  ['solemate-performance expressMetrics', expressMetrics(recorder), true],
];
const N = Number(process.argv[2] ?? 50_000);
const ROUNDS = Number(process.argv[3] ?? 15);
for (const [, mw, publish] of variants) run(mw, publish, N); // warm up: let the JIT settle
run(noop, false, N);
const diffs = variants.map(() => [] as number[]);
for (let r = 0; r < ROUNDS; r++) {
  const base = run(noop, false, N);
  variants.forEach(([, mw, publish], i) => diffs[i].push(run(mw, publish, N) - base));
}
const [promBundle, ours] = diffs.map(median);
const recorded = recorder.collect().find((p) => p.metric === 'http.server.request.duration' && p.attributes['http.route'] === '/hello/:name')?.count ?? 0;
if (recorded < N * ROUNDS) throw new Error(`expressMetrics recorded ${recorded} requests: the bench does not drive it as Node would`);
save('middleware-cost', { oursNs: ours, promBundleNs: promBundle });
console.log(`machine: ${machine()}\n`);
console.log(table(['middleware', `own cost per request (ns, median of ${ROUNDS} interleaved rounds of ${N})`], [['solemate-performance expressMetrics', fmt(ours, 0)], ['express-prom-bundle 8', fmt(promBundle, 0)]]));
