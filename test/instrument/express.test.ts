import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { expressMetrics } from '../../src/instrument/express.js';
import { Recorder } from '../../src/sdk/recorder.js';
import type { MetricPoint } from '../../src/model/metrics.js';
import { pipelined } from '../helpers.js';

// Express 4 beside 5 (devDependency express4 = express@4): the hand-off finds the router elsewhere
const express4 = createRequire(import.meta.url)('express4') as typeof express;

/** Whether `middleware` is still a layer of the app's router (Express 5: app.router; 4: app._router). */
function hasLayer(app: express.Express, middleware: unknown): boolean {
  const router = ((app as unknown as { _router?: { stack: { handle: unknown }[] } })._router ?? app.router) as { stack: { handle: unknown }[] };
  return router.stack.some((l) => l.handle === middleware);
}

async function serve(app: express.Express) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(r)) };
}

const find = (points: MetricPoint[], metric: string, attrs: Record<string, string>) =>
  points.filter((p) => p.metric === metric && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));

// The same requests through each way the middleware can run: the first request always passes the
// layer; after it, the layer hands off to Node's channels unless told not to.
for (const [name, lib, handOff] of [
  ['Express 5, handed off after the first request', express, true],
  ['Express 5, handOff: false (the layer kept)', express, false],
  ['Express 4, handed off after the first request', express4, true],
] as const) {
  test(`${name}: duration by route template, method and status; sizes; no route on 404; error.type on 5xx`, async () => {
    const recorder = new Recorder({ onWarning: () => {} });
    const app = lib();
    app.set('env', 'test'); // the /fail route throws on purpose; express logs errors outside env=test
    const middleware = expressMetrics(recorder, { handOff });
    app.use(middleware);
    const products = lib.Router();
    products.get('/:id', (req, res) => void setTimeout(() => res.json({ id: req.params.id }), 20));
    app.use('/products', products);
    app.post('/orders', lib.json(), (req, res) => void res.status(201).json(req.body));
    app.get('/fail', () => {
      throw new Error('boom');
    });
    const { url, close } = await serve(app);
    for (let i = 0; i < 5; i++) await (await fetch(`${url}/products/${i}`)).text();
    assert.equal(hasLayer(app, middleware), !handOff, handOff ? 'the layer is gone after the first request' : 'the layer stays');
    await (await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'x'.repeat(100) }) })).text();
    await (await fetch(`${url}/fail`)).text();
    await (await fetch(`${url}/nowhere/${Math.random()}`)).text();
    await close();
    const points = recorder.collect();

    const prod = find(points, 'http.server.request.duration', { 'http.route': '/products/:id', 'http.request.method': 'GET', 'http.response.status_code': '200' });
    assert.equal(prod.length, 1, 'five requests, one series: the template, not the raw URL');
    assert.equal(prod[0].count, 5, 'the first request (through the layer) and the four after it');
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
    assert.equal(find(points, 'http.server.request.duration', {}).reduce((n, p) => n + p.count, 0), 8, 'each request once');
    const active = points.find((p) => p.metric === 'http.server.active_requests');
    assert.equal(active?.last, 0, 'in-flight returns to zero');
    assert.ok((active?.max ?? 0) >= 1);
  });
}

for (const [name, lib] of [
  ['Express 5', express],
  ['Express 4', express4],
] as const) {
  test(`${name}: routers and sub-apps mounted on paths with parameters are recorded by template, not by the values`, async () => {
    const recorder = new Recorder({ onWarning: () => {} });
    const app = lib();
    app.use(expressMetrics(recorder));
    const items = lib.Router();
    items.get('/items/:id', (_req, res) => void res.send('i'));
    const reviews = lib.Router();
    reviews.get('/', (_req, res) => void res.send('r'));
    items.use('/items/:id/reviews', reviews);
    const api = lib.Router();
    api.use('/shops/:shop', items);
    app.use('/api', api); // nested: /api + /shops/:shop + /items/:id
    app.use('/shops/:shop', items); // and the same router directly
    app.use('/static', lib.Router().get('/logo.png', (_req, res) => void res.send('p')));
    // a sub-app on a parameterised path, with a router inside it on another, and a sub-app inside that
    const brands = lib();
    brands.get('/models/:model', (_req, res) => void res.send('m'));
    const sizes = lib.Router();
    sizes.get('/stock', (_req, res) => void res.send('s'));
    brands.use('/sizes/:size', sizes);
    const outlet = lib();
    outlet.get('/deals/:deal', (_req, res) => void res.send('d'));
    brands.use('/outlets/:outlet', outlet);
    app.use('/brands/:brand', brands);
    const { url, close } = await serve(app);
    for (const shop of ['1', '2', 'three']) {
      for (const p of [`/api/shops/${shop}/items/9`, `/shops/${shop}/items/${shop}`, `/shops/${shop}/items/5/reviews`, '/static/logo.png', `/brands/${shop}/models/x${shop}`, `/brands/${shop}/sizes/4${shop}/stock`, `/brands/b/outlets/${shop}/deals/${shop}`]) {
        assert.equal((await fetch(url + p)).status, 200, p);
      }
    }
    await close();
    const routes = find(recorder.collect(), 'http.server.request.duration', {}).map((p) => [p.attributes['http.route'], p.count]);
    assert.deepEqual(routes.sort(), [
      ['/api/shops/:shop/items/:id', 3],
      ['/brands/:brand/models/:model', 3],
      ['/brands/:brand/outlets/:outlet/deals/:deal', 3],
      ['/brands/:brand/sizes/:size/stock', 3],
      ['/shops/:shop/items/:id', 3],
      ['/shops/:shop/items/:id/reviews/', 3],
      ['/static/logo.png', 3],
    ]);
  });
}

test('hands off only when nothing can tell: not after another middleware, not under a path, not inside a parent app', async () => {
  const recorder = new Recorder({ onWarning: () => {} });
  // after a middleware that answers some requests itself: those stay uncounted
  const late = express();
  late.use((req, res, next) => (req.path === '/health' ? void res.send('up') : next()));
  const lateMw = expressMetrics(recorder);
  late.use(lateMw);
  late.get('/late', (_req, res) => void res.send('l'));
  // in a sub-app that a parent app mounts: the server calls the parent, which routes other paths too
  const parent = express();
  const sub = express();
  const subMw = expressMetrics(recorder);
  sub.use(subMw);
  sub.get('/sub', (_req, res) => void res.send('s'));
  parent.get('/outside', (_req, res) => void res.send('o'));
  parent.use(sub);
  const a = await serve(late);
  const b = await serve(parent);
  for (let i = 0; i < 3; i++) {
    for (const p of ['/health', '/late']) await (await fetch(a.url + p)).text();
    for (const p of ['/outside', '/sub']) await (await fetch(b.url + p)).text();
  }
  await a.close();
  await b.close();
  assert.ok(hasLayer(late, lateMw), 'after another middleware: kept');
  assert.ok(hasLayer(sub, subMw), 'in a mounted sub-app: kept');
  const points = find(recorder.collect(), 'http.server.request.duration', {});
  assert.deepEqual(points.map((p) => [p.attributes['http.route'], p.count]).sort(), [['/late', 3], ['/sub', 3]]);
});

test('requests in flight when the layer hands off are each counted once', async () => {
  const recorder = new Recorder({ onWarning: () => {} });
  const app = express();
  const middleware = expressMetrics(recorder);
  app.use(middleware);
  app.get('/slow/:n', (req, res) => void setTimeout(() => res.send(req.params.n), 30));
  const { url, close } = await serve(app);
  // three pipelined on one connection (the first of them hands off), and twenty on their own
  const [text] = await Promise.all([pipelined(url, ['/slow/a', '/slow/b', '/slow/c'], 'c'), ...Array.from({ length: 20 }, (_, i) => fetch(`${url}/slow/${i}`).then((r) => r.text()))]);
  assert.equal(text.match(/HTTP\/1\.1 200/g)?.length, 3);
  for (let i = 0; i < 5; i++) await (await fetch(`${url}/slow/x`)).text();
  await close();
  assert.ok(!hasLayer(app, middleware));
  const points = recorder.collect();
  assert.equal(find(points, 'http.server.request.duration', { 'http.route': '/slow/:n' })[0].count, 28);
  assert.equal(points.find((p) => p.metric === 'http.server.active_requests')?.last, 0);
});

test('Server-Timing header is added only when asked for', async () => {
  const recorder = new Recorder({ onWarning: () => {} });
  const app = express();
  app.use(expressMetrics(recorder, { serverTiming: true }));
  app.get('/x', (_req, res) => void res.send('ok'));
  const { url, close } = await serve(app);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${url}/x`); // the first through the layer, the others after the hand-off
    assert.match(res.headers.get('server-timing') ?? '', /^app;dur=\d+(\.\d)?$/);
  }
  await close();
  const plain = express();
  plain.use(expressMetrics(recorder));
  plain.get('/x', (_req, res) => void res.send('ok'));
  const p = await serve(plain);
  for (let i = 0; i < 3; i++) assert.equal((await fetch(`${p.url}/x`)).headers.get('server-timing'), null);
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

test('with a tracer: handlers run in the request context, the caller’s trace continues, the trace is kept — before and after the hand-off', async () => {
  const { Tracer, currentContext, formatTraceparent, urlKey } = await import('../../src/sdk/tracing.js');
  const recorder = new Recorder({ onWarning: () => {} });
  const kept: import('../../src/model/spans.js').TraceRecord[] = [];
  const tracer = new Tracer({ recorder, onTrace: (t) => kept.push(t) });
  const app = express();
  const middleware = expressMetrics(recorder, { tracer });
  app.use(middleware);
  app.get('/products/:id', async (_req, res) => {
    // 5 ms by the clock: a timer can fire early against it (it counts from the loop's cached time)
    const t0 = performance.now();
    while (performance.now() - t0 < 5) await new Promise((r) => setTimeout(r, 1));
    const ctx = currentContext();
    if (ctx) ctx.dbCalls += 2; // what the pg instrumentation does per query
    res.json({ traced: ctx !== undefined, traceId: ctx?.root.traceId });
  });
  const { url, close } = await serve(app);
  // the first request passes the layer (tracer.run), the second starts on Node's channel (enter)
  for (const [i, t] of ['a', 'c'].entries()) {
    const caller = formatTraceparent(t.repeat(32), 'b'.repeat(16));
    const body = (await (await fetch(`${url}/products/7?size=42`, { headers: { traceparent: caller } })).json()) as { traced: boolean; traceId: string };
    assert.deepEqual(body, { traced: true, traceId: t.repeat(32) });
    assert.equal(hasLayer(app, middleware), false, `after request ${i + 1}`);
  }
  await close();
  assert.equal(kept.length, 2);
  for (const trace of kept) {
    const root = trace.spans[0];
    assert.equal(root.name, 'GET /products/:id');
    assert.equal(root.parentSpanId, 'b'.repeat(16));
    assert.equal(root.attributes['http.response.status_code'], 200);
    assert.equal(root.attributes['solemate.db.queries'], 2);
    // which response it asked for, as a hash (the query may carry personal data)
    assert.equal(root.attributes['solemate.url.key'], urlKey('GET', '/products/7?size=42'));
    assert.match(String(root.attributes['solemate.url.key']), /^[0-9a-f]{13}$/);
    assert.ok(root.duration >= 5);
  }
  assert.notEqual(urlKey('GET', '/products/7?size=42'), urlKey('GET', '/products/7?size=41'));
  const q = recorder.collect().find((p) => p.metric === 'solemate.http.server.db.queries');
  assert.equal(q?.sum, 4);
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

test('a middleware nobody holds any more stops listening; after the hand-off the app holds it, and once the app is gone both channels are left', async () => {
  // in a child process with --expose-gc: collection is what is tested
  const src = (f: string) => JSON.stringify(new URL(`../../src/${f}`, import.meta.url).href);
  const code = `
    import dc from 'node:diagnostics_channel';
    import express from 'express';
    import { expressMetrics } from ${src('instrument/express.ts')};
    import { Recorder } from ${src('sdk/recorder.ts')};
    const finished = dc.channel('http.server.response.finish');
    const started = dc.channel('http.server.request.start');
    const collect = async () => { for (let i = 0; i < 20; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); } };
    let dropped = expressMetrics(new Recorder({ onWarning() {} }));
    const before = finished.hasSubscribers;
    dropped = undefined;
    await collect();
    const afterDrop = finished.hasSubscribers;
    const recorder = new Recorder({ onWarning() {} });
    let app = express();
    app.use(expressMetrics(recorder));
    app.get('/x', (_q, r) => r.send('x'));
    let server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const get = async () => (await fetch('http://127.0.0.1:' + server.address().port + '/x', { headers: { connection: 'close' } })).text();
    await collect();
    await get(); // hands off: no router layer holds the middleware any more
    await collect();
    await get();
    await get();
    const kept = recorder.collect().find((p) => p.metric === 'http.server.request.duration')?.count ?? 0;
    await new Promise((r) => server.close(r));
    server = undefined;
    app = undefined;
    await collect();
    console.log(JSON.stringify({ before, afterDrop, kept, startAfterApp: started.hasSubscribers, finishAfterApp: finished.hasSubscribers }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { before: true, afterDrop: false, kept: 3, startAfterApp: false, finishAfterApp: false });
});
