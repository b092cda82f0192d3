import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { expressMetrics } from '../../src/instrument/express.js';
import { Recorder } from '../../src/sdk/recorder.js';
import type { MetricPoint } from '../../src/model.js';
import { pipelined } from '../helpers.js';

async function serve(app: express.Express) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

const find = (points: MetricPoint[], metric: string, attrs: Record<string, string>) =>
  points.filter((p) => p.metric === metric && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));

test('records duration by route template, method and status; sizes; no route on 404; error.type on 5xx', async () => {
  const recorder = new Recorder({ onWarning: () => {} });
  const app = express();
  app.set('env', 'test'); // the /fail route throws on purpose; express logs errors outside env=test
  app.use(expressMetrics(recorder));
  const products = express.Router();
  products.get('/:id', (req, res) => void setTimeout(() => res.json({ id: req.params.id }), 20));
  app.use('/products', products);
  app.post('/orders', express.json(), (req, res) => void res.status(201).json(req.body));
  app.get('/fail', () => {
    throw new Error('boom');
  });
  const { url, close } = await serve(app);
  for (let i = 0; i < 5; i++) await (await fetch(`${url}/products/${i}`)).text();
  await (await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(100) }) })).text();
  await (await fetch(`${url}/fail`)).text();
  await (await fetch(`${url}/nowhere/${Math.random()}`)).text();
  await close();
  const points = recorder.collect();

  const prod = find(points, 'http.server.request.duration', { 'http.route': '/products/:id', 'http.request.method': 'GET', 'http.response.status_code': '200' });
  assert.equal(prod.length, 1, 'five requests, one series: the template, not the raw URL');
  assert.equal(prod[0].count, 5);
  assert.equal(prod[0].unit, 's');
  assert.ok(prod[0].min >= 0.019 && prod[0].max < 1, `durations in seconds, got ${prod[0].min}..${prod[0].max}`);
  const post = find(points, 'http.server.request.body.size', { 'http.route': '/orders', 'http.response.status_code': '201' });
  assert.equal(post[0].sum, JSON.stringify({ a: 'x'.repeat(100) }).length);
  assert.equal(find(points, 'http.server.response.body.size', { 'http.route': '/orders' })[0].sum, JSON.stringify({ a: 'x'.repeat(100) }).length);
  const failed = find(points, 'http.server.request.duration', { 'http.route': '/fail', 'http.response.status_code': '500' });
  assert.equal(failed[0].attributes['error.type'], '500');
  const notFound = find(points, 'http.server.request.duration', { 'http.response.status_code': '404' });
  assert.equal(notFound.length, 1);
  assert.equal(notFound[0].attributes['http.route'], undefined);
  const active = points.find((p) => p.metric === 'http.server.active_requests');
  assert.equal(active?.last, 0, 'in-flight returns to zero');
  assert.ok((active?.max ?? 0) >= 1);
});

test('Server-Timing header is added only when asked for', async () => {
  const recorder = new Recorder({ onWarning: () => {} });
  const app = express();
  app.use(expressMetrics(recorder, { serverTiming: true }));
  app.get('/x', (_req, res) => void res.send('ok'));
  const { url, close } = await serve(app);
  const res = await fetch(`${url}/x`);
  assert.match(res.headers.get('server-timing') ?? '', /^app;dur=\d+(\.\d)?$/);
  await close();
  const plain = express();
  plain.use(expressMetrics(recorder));
  plain.get('/x', (_req, res) => void res.send('ok'));
  const p = await serve(plain);
  assert.equal((await fetch(`${p.url}/x`)).headers.get('server-timing'), null);
  await p.close();
});

test('instrumentation does not change responses', async () => {
  const make = (instrumented: boolean) => {
    const app = express();
    if (instrumented) app.use(expressMetrics(new Recorder({ onWarning: () => {} })));
    app.get('/items/:id', (req, res) => void res.set('x-id', req.params.id).json({ id: req.params.id, list: [3, 1, 2] }));
    return serve(app);
  };
  const a = await make(false);
  const b = await make(true);
  for (const path of ['/items/7', '/missing']) {
    const [ra, rb] = await Promise.all([fetch(a.url + path), fetch(b.url + path)]);
    assert.equal(ra.status, rb.status);
    assert.equal(await ra.text(), await rb.text());
    assert.equal(ra.headers.get('x-id'), rb.headers.get('x-id'));
  }
  await a.close();
  await b.close();
});

test('with a tracer: handlers run in the request context, the caller’s trace continues, the trace is kept', async () => {
  const { Tracer, currentContext, formatTraceparent, urlKey } = await import('../../src/sdk/tracing.js');
  const recorder = new Recorder({ onWarning: () => {} });
  const kept: import('../../src/sdk/tracing.js').TraceRecord[] = [];
  const tracer = new Tracer({ recorder, onTrace: (t) => kept.push(t) });
  const app = express();
  app.use(expressMetrics(recorder, { tracer }));
  app.get('/products/:id', async (_req, res) => {
    await new Promise((r) => setTimeout(r, 5));
    const ctx = currentContext();
    if (ctx) ctx.dbCalls += 2; // what the pg instrumentation does per query
    res.json({ traced: ctx !== undefined, traceId: ctx?.root.traceId });
  });
  const { url, close } = await serve(app);
  const caller = formatTraceparent('a'.repeat(32), 'b'.repeat(16));
  const body = (await (await fetch(`${url}/products/7?size=42`, { headers: { traceparent: caller } })).json()) as { traced: boolean; traceId: string };
  await close();
  assert.deepEqual(body, { traced: true, traceId: 'a'.repeat(32) });
  assert.equal(kept.length, 1);
  const root = kept[0].spans[0];
  assert.equal(root.name, 'GET /products/:id');
  assert.equal(root.parentSpanId, 'b'.repeat(16));
  assert.equal(root.attributes['http.response.status_code'], 200);
  assert.equal(root.attributes['solemate.db.queries'], 2);
  // which response it asked for, as a hash (the query may carry personal data)
  assert.equal(root.attributes['solemate.url.key'], urlKey('GET', '/products/7?size=42'));
  assert.match(String(root.attributes['solemate.url.key']), /^[0-9a-f]{13}$/);
  assert.notEqual(urlKey('GET', '/products/7?size=42'), urlKey('GET', '/products/7?size=41'));
  assert.ok(root.duration >= 5);
  const q = recorder.collect().find((p) => p.metric === 'solemate.http.server.db.queries');
  assert.equal(q?.sum, 2);
  assert.equal(q?.attributes['http.route'], '/products/:id');
});

test('mounted on a path: requests outside it are not counted, also when pipelined behind counted ones', async () => {
  const recorder = new Recorder({ onWarning: () => {} });
  const app = express();
  app.get('/static/x', (_req, res) => void setTimeout(() => res.send('s'), 30));
  app.use('/api', expressMetrics(recorder));
  app.get('/api/items/:id', (_req, res) => void res.send('i'));
  const { url, close } = await serve(app);
  // pipelined: an uncounted request, then a counted one, then an uncounted one
  assert.equal((await pipelined(url, ['/static/x', '/api/items/1', '/static/x'], 's')).match(/HTTP\/1\.1 200/g)?.length, 3);
  await (await fetch(`${url}/static/x`)).text();
  await (await fetch(`${url}/api/items/2`)).text();
  await close();
  const points = find(recorder.collect(), 'http.server.request.duration', {});
  assert.deepEqual(
    points.map((p) => [p.attributes['http.route'], p.count]),
    [['/api/items/:id', 2]],
  );
});

test('a middleware nobody holds any more stops listening for finished responses; one still held keeps recording', async () => {
  // in a child process with --expose-gc: collection is what is tested
  const src = (f: string) => JSON.stringify(new URL(`../../src/${f}`, import.meta.url).href);
  const code = `
    import dc from 'node:diagnostics_channel';
    import express from 'express';
    import { expressMetrics } from ${src('instrument/express.ts')};
    import { Recorder } from ${src('sdk/recorder.ts')};
    const finished = dc.channel('http.server.response.finish');
    const collect = async () => { for (let i = 0; i < 20; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); } };
    let dropped = expressMetrics(new Recorder({ onWarning() {} }));
    const before = finished.hasSubscribers;
    dropped = undefined;
    await collect();
    const afterDrop = finished.hasSubscribers;
    const recorder = new Recorder({ onWarning() {} });
    const app = express();
    app.use(expressMetrics(recorder));
    app.get('/x', (_q, r) => r.send('x'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    await collect();
    await (await fetch('http://127.0.0.1:' + server.address().port + '/x')).text();
    server.close();
    const kept = recorder.collect().find((p) => p.metric === 'http.server.request.duration')?.count ?? 0;
    console.log(JSON.stringify({ before, afterDrop, kept }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { before: true, afterDrop: false, kept: 1 });
});
