// Hello-world Express app in one of several instrumentation variants; prints its port when ready.
// CommonJS so the OpenTelemetry instrumentations can patch http and express before they load.
//   node bench/servers/hello.cjs <none|noop|dc-empty|solemate|solemate-dc|optimizer-idle|prom-bundle|otel>
// (any other name, e.g. none-b: uninstrumented too — a second baseline, to see what a run resolves)
'use strict';
const variant = process.argv[2] ?? 'none';

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
    registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()], meterProvider: provider });
  }
  const express = require('express');
  if (variant === 'solemate') {
    // the SDK's own modules, as an app imports them (solemate-performance/sdk), not the server's
    const { Recorder } = await import('../../dist/sdk/recorder.js');
    const { expressMetrics } = await import('../../dist/instrument/express.js');
    const recorder = new Recorder({ onWarning: () => {} });
    setInterval(() => recorder.collect(), 10_000).unref(); // the delta snapshot the SDK takes
    middleware = expressMetrics(recorder);
  } else if (variant === 'solemate-dc') {
    const { Recorder } = await import('../../dist/sdk/recorder.js');
    const { instrumentHttpServer } = await import('../../dist/instrument/node-http.js');
    const recorder = new Recorder({ onWarning: () => {} });
    setInterval(() => recorder.collect(), 10_000).unref();
    instrumentHttpServer(recorder);
  } else if (variant === 'dc-empty') {
    // what subscribing to Node's HTTP server channels costs by itself
    const dc = require('node:diagnostics_channel');
    dc.subscribe('http.server.request.start', () => {});
    dc.subscribe('http.server.response.finish', () => {});
  } else if (variant === 'optimizer-idle') {
    // the optimization middleware mounted, with no settings applied (what every app pays for it)
    const { optimizationMiddleware } = await import('../../dist/optimize/middleware.js');
    middleware = optimizationMiddleware({ source: { get: async () => ({ version: 0, entries: [] }), intervalMs: 1000 } });
  } else if (variant === 'noop') {
    middleware = (req, res, next) => next(); // the cost of one Express middleware layer alone
  } else if (variant === 'prom-bundle') {
    const promBundle = require('express-prom-bundle');
    middleware = promBundle({ includeMethod: true, includePath: true, includeStatusCode: true });
  }
  const app = express();
  if (middleware) app.use(middleware);
  app.get('/hello/:name', (req, res) => res.send(`hello ${req.params.name}`));
  const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
main();
