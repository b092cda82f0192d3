// Hello-world Express app in one of several instrumentation variants; prints its port when ready.
// CommonJS so the OpenTelemetry instrumentations can patch http and express before they load.
//   node bench/servers/hello.cjs <none|noop|dc-empty|spin|solemate|solemate-dc|solemate-off|optimizer-idle|sdk|prom-bundle|otel>[@build]
// (any other name, e.g. none-b: uninstrumented too — a second baseline, to see what a run resolves)
// A variant of ours loads the build in dist/, or with "@dir" the one in dir (relative to the working
// directory): a copy of dist/ from before a change, to measure both in one run
// (solemate-dc@scratch/dist-before,solemate-dc).
// BENCH_TOGGLE=1 (bench/middleware-toggle.ts): the process switches its instrumentation off and on,
// once per major GC, and counts the requests it answers in each state (below, toggle()).
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const [variant, build] = (process.argv[2] ?? 'none').split('@');
const dist = (module) => pathToFileURL(path.resolve(build ?? path.join(__dirname, '../../dist'), module)).href;
const TOGGLE = process.env.BENCH_TOGGLE === '1';

// In toggle mode, every diagnostics-channel subscription the variant holds is noted, to be undone
// and redone: subscribe() and unsubscribe() are wrapped before the variant loads (a variant that
// unsubscribes itself, like solemate-off, then has nothing to switch).
const subscribed = [];
const dc = require('node:diagnostics_channel');
const subscribe = dc.subscribe;
const unsubscribe = dc.unsubscribe;
if (TOGGLE) {
  // Node's two HTTP channels kept active, in every variant, by a no-op subscriber each: a channel
  // that goes from no subscriber to one or back changes its prototype, and that deoptimizes Node's
  // request code (parserOnIncoming, resOnFinish: `--trace-deopt`, "code dependencies") at every
  // switch — ~10% slower in both states, measured 2026-12-01. So "off" builds the channel messages
  // and calls an empty function; what that costs is measured apart (dc-empty, by instruction count).
  for (const name of ['http.server.request.start', 'http.server.response.finish']) subscribe.call(dc, name, nothing);
  dc.subscribe = (name, fn) => {
    subscribed.push([name, fn]);
    return subscribe.call(dc, name, fn);
  };
  dc.unsubscribe = (name, fn) => {
    const i = subscribed.findIndex(([n, f]) => n === name && f === fn);
    if (i >= 0) subscribed.splice(i, 1);
    return unsubscribe.call(dc, name, fn);
  };
}

function nothing() {}

// OpenTelemetry's instrumentations, which toggle mode disables and enables
const instrumentations = [];

async function main() {
  let middleware;
  if (variant === 'otel') {
    const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } = require('@opentelemetry/sdk-metrics');
    const { registerInstrumentations } = require('@opentelemetry/instrumentation');
    const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
    const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express');
    const { metrics } = require('@opentelemetry/api');
    // Metrics only, with a reader attached (no tracer provider: spans stay non-recording, the
    // cheapest OpenTelemetry set-up that still produces http.server.duration).
    const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.DELTA), exportIntervalMillis: 10_000 })] });
    metrics.setGlobalMeterProvider(provider);
    instrumentations.push(new HttpInstrumentation(), new ExpressInstrumentation());
    registerInstrumentations({ instrumentations, meterProvider: provider });
  }
  const express = require('express');
  if (variant === 'solemate') {
    const recorder = await sdkRecorder();
    const { expressMetrics } = await import(dist('instrument/express.js'));
    middleware = expressMetrics(recorder);
  } else if (variant === 'solemate-dc' || variant === 'solemate-off') {
    const recorder = await sdkRecorder();
    const { instrumentHttpServer } = await import(dist('instrument/node-http.js'));
    const undo = instrumentHttpServer(recorder);
    // solemate-off: the SDK loaded and the recorder running, the instrumentation undone at once —
    // what a process pays for loading it, without any per-request work (bench/middleware-toggle.ts
    // leaves this out)
    if (variant === 'solemate-off') undo();
  } else if (variant === 'sdk') {
    // the whole SDK as an app runs it (bench/sdk-resilience.ts): PerformanceService exporting every
    // second to SOLEMATE_PERF_ENDPOINT, the Express middleware, and a counter per request over 500
    // series, so every export carries ~500 points to a server that may be down, hang, 500 or 429
    const { createPerformanceService } = await import(dist('sdk/performance-service.js'));
    const { expressMetrics } = await import(dist('instrument/express.js'));
    const perf = createPerformanceService({ config: { monitoring: { interval: 1000, tracing: { enabled: false } }, sdk: { endpoint: process.env.SOLEMATE_PERF_ENDPOINT, ...(process.env.SOLEMATE_SDK_BUFFER ? { maxBufferedPoints: Number(process.env.SOLEMATE_SDK_BUFFER) } : {}) } }, service: 'hello', handleSignals: false, onWarning: () => {} });
    let n = 0;
    const count = (req, res, next) => {
      perf.recordCounter('hello.greeted', 1, { visitor: String(n++ % 500) });
      next();
    };
    const measured = expressMetrics(perf);
    middleware = (req, res, next) => measured(req, res, () => count(req, res, next));
  } else if (variant === 'spin') {
    // plain CPU, as much per request as ours adds (BENCH_SPIN_US, default 1.5 µs: the added CPU
    // per request bench/middleware-toggle.ts measured), spent where ours is, on the two channels:
    // what any such cost does to the whole app's throughput in this set-up
    const us = Number(process.env.BENCH_SPIN_US ?? 1.5);
    const { performance } = require('node:perf_hooks');
    dc.subscribe('http.server.request.start', () => {});
    dc.subscribe('http.server.response.finish', () => {
      const until = performance.now() + us / 1000;
      while (performance.now() < until);
    });
  } else if (variant === 'dc-empty') {
    // what subscribing to Node's HTTP server channels costs by itself
    dc.subscribe('http.server.request.start', () => {});
    dc.subscribe('http.server.response.finish', () => {});
  } else if (variant === 'optimizer-idle') {
    // the optimization middleware mounted, with no settings applied (what every app pays for it)
    const { optimizationMiddleware } = await import(dist('optimize/middleware.js'));
    middleware = optimizationMiddleware({ source: { get: async () => ({ version: 0, entries: [] }), intervalMs: 1000 } });
  } else if (variant === 'noop') {
    middleware = (req, res, next) => next(); // the cost of one Express middleware layer alone
  } else if (variant === 'prom-bundle') {
    const promBundle = require('express-prom-bundle');
    middleware = promBundle({ includeMethod: true, includePath: true, includeStatusCode: true });
  }
  const app = express();
  if (middleware) app.use(middleware);
  let answered = 0;
  app.get('/hello/:name', (req, res) => {
    answered++;
    res.send(`hello ${req.params.name}`);
  });
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  if (TOGGLE) toggle(app, middleware, () => answered);
}

/** The SDK's recorder from its own modules, as an app imports them (solemate-performance/sdk), not the server's; with the delta snapshot the SDK takes. */
async function sdkRecorder() {
  const { Recorder } = await import(dist('sdk/recorder.js'));
  const recorder = new Recorder({ onWarning: () => {} });
  setInterval(() => recorder.collect(), 10_000).unref();
  return recorder;
}

/**
 * Toggle mode: the same process, the same code in memory and the same load, measured in alternate
 * windows with the variant's instrumentation on and off. Off undoes what the variant did to the app:
 * its middleware layer leaves the router (as if never mounted) and its channel subscriptions are
 * removed — the request.start ones at once, the others SETTLE ms later, once the requests they
 * began have finished. OpenTelemetry's instrumentations are disabled (their patches of http and
 * express undone) — but the wrappers its Express instrumentation put around the app's layers when
 * they were created stay, and still run, so "off" is not the bare app there and its loss is a lower
 * bound. A window runs from 2 × SETTLE ms after a switch to the end of the next major
 * GC (or MAX_WINDOW ms): at saturation a hello world runs a mark-compact every few hundred ms, and a
 * window that holds exactly one GC cycle varies ~3× less than one of fixed length, which holds one
 * or none. Per window: requests answered, elapsed ms, CPU µs of the process. SIGUSR2 prints the
 * windows so far as one JSON line and starts again.
 */
function toggle(app, middleware, answered) {
  const { PerformanceObserver, constants, performance } = require('node:perf_hooks');
  const { clearTimeout } = require('node:timers');
  const SETTLE = 10;
  const MAX_WINDOW = 2000;
  const router = app.router ?? app._router;
  const starts = () => subscribed.filter(([name]) => name === 'http.server.request.start');
  const others = () => subscribed.filter(([name]) => name !== 'http.server.request.start');
  let on = true;
  let saved;
  let windows = [];
  const set = (next) => {
    on = next;
    for (const i of instrumentations) {
      if (on) i.enable();
      else i.disable();
    }
    if (on) {
      router.stack = saved;
      for (const [name, fn] of others()) subscribe.call(dc, name, fn);
      for (const [name, fn] of starts()) subscribe.call(dc, name, fn);
    } else {
      saved = router.stack;
      router.stack = middleware === undefined ? saved : saved.filter((layer) => layer.handle !== middleware);
      for (const [name, fn] of starts()) unsubscribe.call(dc, name, fn);
      setTimeout(() => {
        for (const [name, fn] of others()) unsubscribe.call(dc, name, fn);
      }, SETTLE);
    }
  };
  const snap = () => ({ n: answered(), t: performance.now(), cpu: process.cpuUsage() });
  let start; // the open window's first snapshot
  let cap;
  const close = () => {
    if (start === undefined) return;
    clearTimeout(cap);
    const a = start;
    const b = snap();
    windows.push({ on, requests: b.n - a.n, ms: b.t - a.t, cpuUs: b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system });
    start = undefined;
    set(!on);
    open();
  };
  const open = () =>
    setTimeout(() => {
      start = snap();
      cap = setTimeout(close, MAX_WINDOW);
    }, 2 * SETTLE);
  new PerformanceObserver((list) => {
    if (list.getEntries().some((e) => e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) close();
  }).observe({ entryTypes: ['gc'] });
  open();
  process.on('SIGUSR2', () => {
    process.stdout.write(`${JSON.stringify(windows)}\n`);
    windows = [];
  });
}
main();
