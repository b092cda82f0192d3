// Cost of tracing one request with three child spans (the shape of a product page: two queries and
// a cache call): our Tracer (AsyncLocalStorage context, plain span objects, tail sampling) against
// the OpenTelemetry SDK (BasicTracerProvider + BatchSpanProcessor, AsyncLocalStorage context
// manager), both with every span recorded. Measured per request, median of rounds.
//   node --import tsx bench/tracing.ts
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Recorder } from '../src/sdk/recorder.js';
import { endSpan, Tracer } from '../src/sdk/tracing.js';
import { fmt, machine, nsPerOp, save, table } from './lib.js';

const ITER = 50_000;
const ROUNDS = 7;

const ours = new Tracer({ recorder: new Recorder({ onWarning: () => {} }), onTrace: () => {} });
const oursNs = nsPerOp(() => {
  const ctx = ours.startRequest('HTTP');
  ours.run(ctx, () => {
    for (let i = 0; i < 3; i++) endSpan(ours.startSpan('SELECT products', 'client', { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM products WHERE id = $1' }));
  });
  ours.endRequest(ctx, 'GET', '/products/:id', 200);
}, ITER, ROUNDS);

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 100_000, scheduledDelayMillis: 50 })] });
trace.setGlobalTracerProvider(provider);
const otel = trace.getTracer('bench');
const otelNs = nsPerOp(() => {
  otel.startActiveSpan('GET /products/:id', (root) => {
    for (let i = 0; i < 3; i++) otel.startSpan('SELECT products', { attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM products WHERE id = $1' } }).end();
    root.end();
  });
  if (exporter.getFinishedSpans().length > 10_000) exporter.reset();
}, ITER, ROUNDS);
await provider.shutdown();

save('tracing', { iterations: ITER, rounds: ROUNDS, oursNs, otelNs });
console.log(`machine: ${machine()}\none request span + 3 child spans, all recorded; median of ${ROUNDS} rounds × ${ITER.toLocaleString()}\n`);
console.log(table(['tracer', 'ns per traced request', 'ratio'], [
  ['solemate-performance Tracer (own spans, OTLP on the wire)', fmt(oursNs, 0), '1×'],
  ['@opentelemetry/sdk-trace-base 2.x + AsyncLocalStorageContextManager', fmt(otelNs, 0), `${fmt(otelNs / oursNs)}×`],
]));
