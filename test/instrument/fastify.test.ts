import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { fastifyMetrics } from '../../src/instrument/fastify.js';
import { Recorder } from '../../src/sdk/recorder.js';

test('fastify plugin records route templates from every encapsulated context, statuses and errors', async () => {
  const recorder = new Recorder({ onWarning: () => {} });
  const app = Fastify();
  await app.register(fastifyMetrics(recorder, { serverTiming: true }));
  await app.register(
    async (child) => {
      child.get('/products/:id', async (req) => ({ id: (req.params as { id: string }).id }));
    },
    { prefix: '/api' },
  );
  app.get('/boom', async () => {
    throw new Error('x');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${url}/api/products/${i}`);
    assert.match(r.headers.get('server-timing') ?? '', /^app;dur=/);
    await r.text();
  }
  await (await fetch(`${url}/boom`)).text();
  await (await fetch(`${url}/nope`)).text();
  await app.close();
  const points = recorder.collect().filter((p) => p.metric === 'http.server.request.duration');
  const byRoute = Object.fromEntries(points.map((p) => [`${p.attributes['http.route'] ?? '-'} ${p.attributes['http.response.status_code']}`, p]));
  assert.equal(byRoute['/api/products/:id 200']?.count, 3);
  assert.equal(byRoute['/boom 500']?.attributes['error.type'], '500');
  assert.equal(byRoute['- 404']?.count, 1);
  assert.equal(recorder.collect().length, 0);
});

test('with a tracer: handlers (also after body parsing) run in the request context; traces kept per route', async () => {
  const { Tracer, currentContext, formatTraceparent, urlKey } = await import('../../src/sdk/tracing.js');
  const recorder = new Recorder({ onWarning: () => {} });
  const kept: import('../../src/model/spans.js').TraceRecord[] = [];
  const tracer = new Tracer({ recorder, onTrace: (t) => kept.push(t) });
  const app = Fastify();
  await app.register(fastifyMetrics(recorder, { tracer }));
  app.post('/orders/:id', async (req) => {
    await new Promise((r) => setTimeout(r, 5));
    const ctx = currentContext();
    return { traced: ctx !== undefined, traceId: ctx?.root.traceId, body: req.body };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const res = await fetch(`${url}/orders/9`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent: formatTraceparent('c'.repeat(32), 'd'.repeat(16)) }, body: JSON.stringify({ qty: 2 }) });
  const body = (await res.json()) as { traced: boolean; traceId: string; body: unknown };
  await app.close();
  assert.deepEqual(body, { traced: true, traceId: 'c'.repeat(32), body: { qty: 2 } });
  assert.equal(kept.length, 1);
  assert.equal(kept[0].spans[0].name, 'POST /orders/:id');
  assert.equal(kept[0].spans[0].parentSpanId, 'd'.repeat(16));
  assert.equal(kept[0].spans[0].attributes['solemate.url.key'], urlKey('POST', '/orders/9'));
});
