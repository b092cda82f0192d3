// /v1/traces and /api/traces: our exporter (protobuf and JSON) and the stock OpenTelemetry trace
// exporters as clients; bad spans rejected one by one, bad bodies with 400.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { OtlpHttpExporter, TRACES } from '../../src/exporters/otlp.js';
import { Recorder } from '../../src/sdk/recorder.js';
import type { TraceRecord } from '../../src/model/spans.js';
import { Tracer, endSpan } from '../../src/sdk/tracing.js';
import { createServer, type PerformanceServer } from '../../src/server/app.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { json, testConfig } from '../helpers.js';
import { traceTree } from '../../src/query/traces.js';
import type { SpanRow } from '../../src/store/store.js';

const servers: PerformanceServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function server(): Promise<PerformanceServer> {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const s = await createServer({ config: testConfig(), store });
  servers.push(s);
  return s;
}

/** One request with three queries (two of them the same statement) and a failing cache call. */
function recordRequest(): TraceRecord {
  let kept: TraceRecord | undefined;
  const tracer = new Tracer({ recorder: new Recorder({ service: 'shop', instance: 'i-1', onWarning: () => {} }), onTrace: (t) => (kept = t) });
  const ctx = tracer.startRequest('HTTP');
  tracer.run(ctx, () => {
    for (const id of [1, 2]) endSpan(tracer.startSpan('SELECT order_items', 'client', { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM order_items WHERE order_id = $1', 'order.id': id }));
    endSpan(tracer.startSpan('SELECT orders', 'client', { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE customer_id = $1' }));
    endSpan(tracer.startSpan('GET', 'client', { 'db.system.name': 'redis' }), new Error('timeout'));
  });
  tracer.endRequest(ctx, 'GET', '/account/orders', 200);
  return kept!;
}

test("a trace's database time: summed over its queries, and waited — queries run in parallel overlap", () => {
  const span = (spanId: string, start: number, duration: number, parentSpanId?: string): SpanRow => ({ traceId: 't', spanId, parentSpanId, service: 's', instance: 'i', name: spanId, kind: parentSpanId ? 'client' : 'server', start, duration, status: 'unset', attributes: parentSpanId ? { 'db.system.name': 'postgresql', 'db.query.text': `SELECT ${spanId}` } : {} });
  // two queries at once (Promise.all), one after them
  const t = traceTree([span('root', 0, 50), span('a', 1, 10, 'root'), span('b', 5, 15, 'root'), span('c', 30, 5, 'root')])!;
  assert.equal(t.database.queries, 3);
  assert.equal(t.database.timeMs, 30);
  assert.equal(t.database.waitMs, 24, '[1, 20) and [30, 35)');
});

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  test(`our exporter (${protocol}) → stored → listed and returned as a tree with repeated statements`, async () => {
    const s = await server();
    const t = recordRequest();
    const exporter = new OtlpHttpExporter<TraceRecord>({ endpoint: s.url, protocol }, TRACES);
    exporter.enqueue([t]);
    await exporter.flush();
    assert.equal(exporter.stats.sentPoints, 1);
    assert.equal(s.stats.acceptedSpans, 5);
    const { traces } = await json(fetch(`${s.url}/api/traces?route=/account/orders`));
    assert.equal(traces.length, 1);
    assert.equal(traces[0].traceId, t.spans[0].traceId);
    assert.equal(traces[0].name, 'GET /account/orders');
    assert.equal(traces[0].spans, 5);
    assert.equal(traces[0].error, true, 'a failed child marks the trace');
    const detail = await json(fetch(`${s.url}/api/traces/${t.spans[0].traceId}`));
    assert.equal(detail.roots.length, 1);
    assert.equal(detail.roots[0].children.length, 4);
    assert.equal(detail.roots[0].attributes['http.route'], '/account/orders');
    assert.equal(detail.roots[0].attributes['solemate.db.queries'], 0, 'counts come from instrumentation, these spans were made by hand');
    assert.equal(detail.roots[0].children[0].attributes['order.id'], 1, 'integer attributes survive both encodings');
    assert.equal(detail.database.queries, 3);
    const queries = t.spans.filter((x) => x.attributes['db.query.text'] !== undefined);
    assert.ok(Math.abs(detail.database.timeMs - queries.reduce((n, x) => n + x.duration, 0)) < 1e-6);
    assert.deepEqual(detail.database.repeated.map((r: { statement: string; count: number }) => [r.statement, r.count]), [['SELECT * FROM order_items WHERE order_id = $1', 2]]);
    const start = t.spans[0].start;
    assert.ok(Math.abs(detail.start - start) < 0.001, 'sub-millisecond start times survive');
  });
}

for (const [name, Exporter] of [
  ['exporter-trace-otlp-http (JSON)', JsonTraceExporter],
  ['exporter-trace-otlp-proto (protobuf)', ProtoTraceExporter],
] as const) {
  test(`${name} as the client`, async () => {
    const s = await server();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'otel-app', 'service.instance.id': 'pod-9' }), spanProcessors: [new BatchSpanProcessor(new Exporter({ url: `${s.url}/v1/traces` }))] });
    const tracer = provider.getTracer('test');
    const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: { 'http.route': '/checkout', 'http.response.status_code': 500 } });
    const child = tracer.startSpan('INSERT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'INSERT INTO orders VALUES ($1)' } }, trace.setSpan(context.active(), root));
    child.end();
    root.setStatus({ code: SpanStatusCode.ERROR, message: 'payment failed' });
    root.end();
    await provider.forceFlush();
    await provider.shutdown();
    assert.equal(s.stats.rejectedSpans, 0);
    const { traces } = await json(fetch(`${s.url}/api/traces?service=otel-app&error=true`));
    assert.equal(traces.length, 1);
    assert.equal(traces[0].traceId, root.spanContext().traceId);
    const detail = await json(fetch(`${s.url}/api/traces/${root.spanContext().traceId}`));
    assert.equal(detail.roots[0].spanId, root.spanContext().spanId);
    assert.equal(detail.roots[0].statusMessage, 'payment failed');
    assert.equal(detail.roots[0].children[0].spanId, child.spanContext().spanId);
    assert.equal(detail.roots[0].children[0].kind, 'client');
    assert.equal(detail.roots[0].instance, 'pod-9');
  });
}

test('bad spans are rejected one by one; bad bodies and queries get 400, unknown traces 404', async () => {
  const s = await server();
  const good = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), name: 'ok', kind: 2, startTimeUnixNano: '1764000000000000000', endTimeUnixNano: '1764000000005000000' };
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeSpans: [{ spans: [good, { ...good, spanId: 'xyz' }, { ...good, spanId: 'c'.repeat(16), traceId: '0'.repeat(32) }, { ...good, spanId: 'd'.repeat(16), endTimeUnixNano: '1' }, { ...good, spanId: 'e'.repeat(16), name: '' }] }],
      },
    ],
  };
  const res = await fetch(`${s.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  const partial = (await res.json()) as { partialSuccess: { rejectedSpans: string; errorMessage: string } };
  assert.equal(partial.partialSuccess.rejectedSpans, '4');
  assert.match(partial.partialSuccess.errorMessage, /spanId must be 16 hex digits/);
  assert.match(partial.partialSuccess.errorMessage, /before startTimeUnixNano/);
  const stored = await json(fetch(`${s.url}/api/traces/${'a'.repeat(32)}`));
  assert.equal(stored.spans, 1);
  assert.equal(stored.duration, 5);
  for (const [ct, payload] of [
    ['application/json', '{"resourceSpans": 5}'],
    ['application/json', '{not json'],
    ['application/x-protobuf', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])],
  ] as const) {
    const r = await fetch(`${s.url}/v1/traces`, { method: 'POST', headers: { 'content-type': ct }, body: payload });
    assert.equal(r.status, 400, String(payload));
    assert.ok(((await r.json()) as { message?: string }).message);
  }
  assert.equal((await fetch(`${s.url}/api/traces/${'f'.repeat(32)}`)).status, 404);
  assert.equal((await fetch(`${s.url}/api/traces/nothex`)).status, 400);
  assert.equal((await fetch(`${s.url}/api/traces?limit=0`)).status, 400);
  assert.equal((await fetch(`${s.url}/api/traces?error=maybe`)).status, 400);
  assert.equal((await fetch(`${s.url}/api/traces?from=yesterday`)).status, 400);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200, 'still up');
});
