// The demo shop against the machine's PostgreSQL and Redis: every fault does what it says, and
// switching it off changes behaviour, not results.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import pg from 'pg';
import { parseFaults } from '../../examples/solemate-shop/src/faults.js';
import { startShop, type RunningShop } from '../../examples/solemate-shop/src/shop.js';
import { freshDatabase, redisOrSkip } from '../helpers.js';

const db = await freshDatabase();
const redis = await redisOrSkip();
const skip = 'skip' in db ? db.skip : redis.skip;
let faulty: RunningShop;
let fixed: RunningShop;

before(async () => {
  if (skip || 'skip' in db) return;
  const common = { port: 0, databaseUrl: db.url, redisUrl: redis.url, products: 3000, endpoint: 'http://127.0.0.1:9', interval: 3_600_000 };
  faulty = await startShop({ ...common, faults: parseFaults('all') });
  fixed = await startShop({ ...common, faults: parseFaults('none') });
});
after(async () => {
  await faulty?.close();
  await fixed?.close();
  if (!('skip' in db)) await db.drop();
});

const get = (shop: RunningShop, path: string, headers: Record<string, string> = {}) => fetch(shop.url + path, { headers });

test('parseFaults: all, none, a list; unknown names refused', () => {
  assert.equal(Object.values(parseFaults(undefined)).every(Boolean), true);
  assert.equal(Object.values(parseFaults('none')).some(Boolean), false);
  assert.deepEqual(Object.entries(parseFaults('nPlusOne,uncompressed')).filter(([, v]) => v).map(([k]) => k), ['nPlusOne', 'uncompressed']);
  assert.throws(() => parseFaults('nPlusOne,slowness'), /unknown fault "slowness"/);
});

test('storefront: lazy images, image size, bundle, compression and cache headers follow the faults', { skip }, async () => {
  const bad = await (await get(faulty, '/?category=2', { 'accept-encoding': 'gzip' })).text();
  assert.equal((bad.match(/<img /g) ?? []).length, 24);
  assert.doesNotMatch(bad, /loading="lazy"/);
  assert.match(bad, /<script src="\/assets\/bundle\.js"><\/script>/);
  const goodRes = await fetch(`${fixed.url}/?category=2`, { headers: { 'accept-encoding': 'gzip' } });
  const good = await goodRes.text();
  assert.equal((good.match(/loading="lazy"/g) ?? []).length, 16, 'all but the first row');
  assert.match(good, /type="module" src="\/assets\/app\.js" defer/);
  // instrumented, every page carries the performance server's real-user snippet
  for (const html of [good, bad]) assert.match(html, /<script src="http:\/\/127\.0\.0\.1:9\/rum\.js" data-service="solemate-shop-web" defer><\/script><\/head>/);
  const rawGood = await new Promise<{ enc?: string }>((resolve) => {
    import('node:http').then((http) => http.get(`${fixed.url}/?category=2`, { headers: { 'accept-encoding': 'gzip' } }, (r) => (r.resume(), resolve({ enc: r.headers['content-encoding'] }))));
  });
  assert.equal(rawGood.enc, 'gzip');
  const rawBad = await new Promise<{ enc?: string }>((resolve) => {
    import('node:http').then((http) => http.get(`${faulty.url}/?category=2`, { headers: { 'accept-encoding': 'gzip' } }, (r) => (r.resume(), resolve({ enc: r.headers['content-encoding'] }))));
  });
  assert.equal(rawBad.enc, undefined);
  const bundle = await get(faulty, '/assets/bundle.js');
  assert.equal(bundle.headers.get('cache-control'), null);
  assert.ok((await bundle.arrayBuffer()).byteLength > 500_000);
  const app = await get(fixed, '/assets/app.js');
  assert.match(String(app.headers.get('cache-control')), /max-age=31536000/);
  assert.ok((await app.arrayBuffer()).byteLength < 5_000);
  const width = async (shop: RunningShop) => Buffer.from(await (await get(shop, '/images/products/7.png')).arrayBuffer()).readUInt32BE(16);
  assert.equal(await width(faulty), 1200);
  assert.equal(await width(fixed), 300);
  assert.ok(zlib.constants, 'zlib available');
});

test('missing index: the hot catalog query scans with the fault and uses the index without', { skip }, async () => {
  const c = new pg.Client({ connectionString: faulty.databaseUrl });
  await c.connect();
  try {
    const plan = async () => JSON.stringify((await c.query('EXPLAIN SELECT id FROM products WHERE category_id = 3 ORDER BY price_cents LIMIT 24')).rows);
    // the fixed shop created the index; the faulty one only works without it
    assert.match(await plan(), /Index Scan using products_category_price/);
    await c.query('DROP INDEX products_category_price');
    await c.query('ANALYZE products');
    assert.match(await plan(), /Seq Scan on products/);
    await c.query('CREATE INDEX products_category_price ON products (category_id, price_cents)');
  } finally {
    await c.end();
  }
});

test('order history: the N+1 version makes one query per order and item, the fixed one a single query; same answer', { skip }, async () => {
  // customer 1 is one of the loyal customers with a long history
  const queries = (shop: RunningShop) => shop.perf!.recorder.collect().find((p) => p.metric === 'solemate.http.server.db.queries' && p.attributes['http.route'] === '/api/customers/:id/orders');
  faulty.perf!.recorder.collect();
  fixed.perf!.recorder.collect();
  const a = (await (await get(faulty, "/api/customers/1/orders")).json()) as { orders: { id: number; items: unknown[]; created_at: string }[] };
  const b = (await (await get(fixed, "/api/customers/1/orders")).json()) as typeof a;
  assert.ok(a.orders.length >= 2, `${a.orders.length} orders`);
  const norm = (x: typeof a) => JSON.stringify(x.orders.map((o) => ({ ...o, created_at: new Date(o.created_at).toISOString() })));
  assert.equal(norm(a), norm(b));
  const items = a.orders.reduce((n, o) => n + o.items.length, 0);
  assert.equal(queries(faulty)?.sum, 1 + a.orders.length + items);
  assert.equal(queries(fixed)?.sum, 1);
});

test('facets: recomputed every time with the fault, served from the Redis cache without', { skip }, async () => {
  const cacheHits = (shop: RunningShop) => shop.perf!.recorder.collect().filter((p) => p.metric === 'solemate.cache.requests' && p.attributes['cache.prefix'] === 'facets' && p.attributes['cache.result'] === 'hit').reduce((n, p) => n + p.sum, 0);
  const dbQueries = (shop: RunningShop) => shop.perf!.recorder.collect().find((p) => p.metric === 'solemate.http.server.db.queries' && p.attributes['http.route'] === '/api/facets')?.sum;
  faulty.perf!.recorder.collect();
  fixed.perf!.recorder.collect();
  const category = 5 + Math.floor(Math.random() * 5);
  for (let i = 0; i < 3; i++) {
    assert.equal((await get(faulty, `/api/facets?category=${category}`)).status, 200);
    assert.equal((await get(fixed, `/api/facets?category=${category}`)).status, 200);
  }
  assert.equal(dbQueries(faulty), 9, 'three aggregates per call');
  const f = (await (await get(fixed, `/api/facets?category=${category}`)).json()) as { brands: { n: number }[] };
  assert.ok(f.brands.length > 0);
  assert.ok(cacheHits(fixed) >= 3, 'served from Redis after the first call');
});

test('cart and checkout: a session cart becomes an order, stock goes down, bad input is a 4xx', { skip }, async () => {
  const product = (await (await get(fixed, '/api/products/11')).json()) as { id: number; sizes: number[]; stock: number };
  const add = await fetch(`${fixed.url}/api/cart/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ productId: 11, size: product.sizes[0], quantity: 2 }) });
  assert.equal(add.status, 201);
  const cookie = add.headers.get('set-cookie')!.split(';')[0];
  const order = await fetch(`${fixed.url}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ customerId: 42 }) });
  assert.equal(order.status, 201);
  const { orderId } = (await order.json()) as { orderId: number };
  const after = (await (await get(fixed, '/api/products/11')).json()) as { stock: number };
  assert.equal(after.stock, product.stock - 2);
  const history = (await (await get(fixed, '/api/customers/42/orders')).json()) as { orders: { id: number }[] };
  assert.equal(history.orders[0].id, orderId);
  const empty = await fetch(`${fixed.url}/api/checkout`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ customerId: 42 }) });
  assert.equal(empty.status, 400, 'the cart was emptied');
  assert.equal((await get(fixed, '/api/products/abc')).status, 400);
  assert.equal((await get(fixed, '/api/products/99999999')).status, 404);
  const wrongSize = await fetch(`${fixed.url}/api/cart/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ productId: 11, size: 30 }) });
  assert.equal(wrongSize.status, 400);
});

test('the shop’s SDK: request traces with database spans, pg and Redis collectors', { skip }, async () => {
  await get(faulty, '/api/customers/2/orders');
  const points = faulty.perf!.recorder.collect();
  assert.ok(points.some((p) => p.metric === 'db.client.operation.duration' && p.attributes['db.collection.name'] === 'order_items'));
  assert.ok(points.some((p) => p.metric === 'http.server.request.duration' && p.attributes['http.route'] === '/api/customers/:id/orders'));
});

test('front-end analyzers: every front-end fault is found on the faulty shop, nothing on the fixed one', { skip }, async () => {
  const { runAnalyzers, ANALYZERS } = await import('../../src/analyzers/runner.js');
  const { collectSite } = await import('../../src/analyzers/site.js');
  const frontEnd = ANALYZERS.filter((a) => a.meta.requires.includes('site'));
  const bad = await runAnalyzers({ site: () => collectSite(`${faulty.url}/?category=2`) }, { analyzers: frontEnd });
  const byId = Object.fromEntries(bad.map((r) => [r.id, r]));
  assert.deepEqual(bad.map((r) => r.status), ['findings', 'findings', 'findings', 'findings']);
  assert.match(byId.compression.findings[0].title, /text responses sent uncompressed/);
  assert.ok(byId['cache-headers'].findings[0].evidence.rows.some((r) => String(r.url).endsWith('/assets/bundle.js')));
  assert.deepEqual(byId.images.findings.map((f) => f.severity), ['critical', 'warning'], 'oversized and eager');
  assert.equal(byId.images.findings[0].evidence.rows[0].w, 1200);
  assert.match(byId.bundle.findings[0].title, /render-blocking and over 170 KiB/);
  const good = await runAnalyzers({ site: () => collectSite(`${fixed.url}/?category=2`) }, { analyzers: frontEnd });
  assert.deepEqual(good.map((r) => [r.id, r.status]), [['compression', 'pass'], ['cache-headers', 'pass'], ['images', 'pass'], ['bundle', 'pass']], JSON.stringify(good.flatMap((r) => r.findings.map((f) => f.title))));
});
