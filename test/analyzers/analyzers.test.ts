// Each analyzer on data where it must fire and data where it must not; the runner's contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANALYZERS, runAnalyzers, storeCollector } from '../../src/analyzers/runner.js';
import type { Analyzer } from '../../src/analyzers/types.js';
import { QueryEngine } from '../../src/query/engine.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { SpanRow } from '../../src/store/store.js';
import { histPoint } from '../store/contract.js';
import { testConfig } from '../helpers.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

async function shopLike(faulty: boolean) {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const points = [];
  for (let m = 1; m <= 10; m++) {
    const t = NOW - m * 60_000 + 30_000;
    points.push(histPoint('http.server.request.duration', { 'http.route': '/products/:id', 'http.request.method': 'GET', 'http.response.status_code': '200' }, t, Array(30).fill(0.02)));
    points.push(histPoint('http.server.request.duration', { 'http.route': '/api/customers/:id/orders', 'http.request.method': 'GET', 'http.response.status_code': '200' }, t, Array(10).fill(faulty ? 0.9 : 0.005)));
  }
  await store.write(points);
  const spans: SpanRow[] = [];
  for (let i = 0; i < 3; i++) {
    const traceId = `${i + 1}`.padStart(32, 'a');
    const root = `${i + 1}`.padStart(16, 'b');
    spans.push({ traceId, spanId: root, service: 'shop', instance: 'i', name: 'GET /api/customers/:id/orders', kind: 'server', start: NOW - 60_000 + i, duration: faulty ? 900 : 5, status: 'unset', attributes: { 'http.route': '/api/customers/:id/orders', 'http.request.method': 'GET' } });
    const n = faulty ? 40 : 1;
    for (let q = 0; q < n; q++) spans.push({ traceId, spanId: `${i}${q}`.padStart(16, 'c'), parentSpanId: root, service: 'shop', instance: 'i', name: 'SELECT order_items', kind: 'client', start: NOW - 60_000 + i + q, duration: 2, status: 'unset', attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT product_id FROM order_items WHERE order_id = $1' } });
    // and each item's product name: a second statement repeated in the same requests
    for (let q = 0; q < (faulty ? 8 : 1); q++) spans.push({ traceId, spanId: `${i}${q}`.padStart(16, 'd'), parentSpanId: root, service: 'shop', instance: 'i', name: 'SELECT products', kind: 'client', start: NOW - 60_000 + i + q, duration: 1, status: 'unset', attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT name FROM products WHERE id = $1' } });
  }
  await store.writeSpans(spans);
  return { store, collect: storeCollector(new QueryEngine(store, testConfig(), () => NOW), store, 15 * 60_000, NOW) };
}

test('on the faulty shop: the slow route and the N+1 are found, with evidence and impact', async () => {
  const { store, collect } = await shopLike(true);
  const results = await runAnalyzers(collect);
  const slow = results.find((r) => r.id === 'slow-routes')!;
  assert.equal(slow.status, 'findings');
  assert.equal(slow.findings[0].target.route, '/api/customers/:id/orders');
  assert.equal(slow.findings[0].severity, 'warning');
  assert.ok(slow.findings[0].impact.estimate > 90, `${slow.findings[0].impact.estimate}% of server time`);
  assert.match(slow.findings[0].impact.derivedFrom, /100 requests/);
  const n1 = results.find((r) => r.id === 'n-plus-one')!;
  assert.equal(n1.status, 'findings');
  assert.equal(n1.findings.length, 1, 'one finding for the route, not one per repeated statement');
  assert.deepEqual(n1.findings[0].target, { route: '/api/customers/:id/orders', method: 'GET' });
  assert.deepEqual(n1.findings[0].evidence.rows.map((r) => [r.statement, r.perRequest]), [['SELECT product_id FROM order_items WHERE order_id = $1', 40], ['SELECT name FROM products WHERE id = $1', 8]]);
  assert.equal(n1.findings[0].title, 'GET /api/customers/:id/orders repeats 2 queries per request (40× + 8×)');
  assert.equal(n1.findings[0].severity, 'critical');
  // (40 − 1) + (8 − 1) queries saved per request × the route's requests per second
  const rps = Number(/route's ([\d.]+) requests\/s/.exec(n1.findings[0].impact.derivedFrom)?.[1]);
  assert.ok(rps > 0, n1.findings[0].impact.derivedFrom);
  assert.ok(Math.abs(n1.findings[0].impact.estimate - 46 * rps) < 0.1, `${n1.findings[0].impact.estimate} queries/s saved, from the route's traffic`);
  await store.close();
});

test('on the fixed shop: nothing is recommended', async () => {
  const { store, collect } = await shopLike(false);
  const results = await runAnalyzers(collect);
  assert.deepEqual(
    results.map((r) => [r.id, r.status]),
    [['slow-routes', 'pass'], ['n-plus-one', 'pass'], ['cacheable-routes', 'pass'], ['slow-queries', 'not_applicable'], ['missing-index', 'not_applicable'], ['unused-indexes', 'not_applicable'], ['partitioning', 'not_applicable'], ['read-replicas', 'not_applicable'], ['pool-saturation', 'not_applicable'], ['cache-hit-ratio', 'not_applicable'], ['event-loop', 'not_applicable'], ['memory-growth', 'not_applicable'], ['cpu-saturation', 'not_applicable'], ['lighthouse', 'not_applicable'], ['compression', 'not_applicable'], ['cache-headers', 'not_applicable'], ['images', 'not_applicable'], ['bundle', 'not_applicable']],
    'no database, runtime metrics, site or Lighthouse run given: those analyzers say so',
  );
  await store.close();
});

test('runner: declared inputs only, not applicable, exceptions become error results, options override defaults', async () => {
  const boom: Analyzer = { meta: { id: 'boom', title: 'Boom', description: '', requires: ['routes'] }, defaults: {}, analyze: async () => { throw new Error('kaboom'); } };
  const needsDb: Analyzer = { meta: { id: 'db', title: 'Db', description: '', requires: ['postgres'] }, defaults: {}, analyze: async () => [] };
  let seen: string[] = [];
  const spy: Analyzer<{ x: number }> = { meta: { id: 'spy', title: 'Spy', description: '', requires: ['routes'] }, defaults: { x: { value: 1, source: 'test' } }, analyze: async (inputs, o) => ((seen = [...Object.keys(inputs), String(o.x)]), []) };
  const r = await runAnalyzers({ routes: async () => [], traces: async () => { throw new Error('must not be collected'); } }, { analyzers: [boom, needsDb, spy as unknown as Analyzer], overrides: { spy: { x: 7 } } });
  assert.deepEqual(r.map((x) => [x.id, x.status]), [['boom', 'error'], ['db', 'not_applicable'], ['spy', 'pass']]);
  assert.equal(r[0].reason, 'kaboom');
  assert.match(r[1].reason!, /needs postgres/);
  assert.deepEqual(seen, ['routes', '7']);
  const empty = await runAnalyzers({ routes: async () => [], traces: async () => [], runtime: async () => ({ services: [], pools: [], caches: [], capacity: undefined }) });
  assert.deepEqual(empty.map((x) => x.status), Array(18).fill('not_applicable'));
  for (const a of ANALYZERS) for (const [k, v] of Object.entries(a.defaults)) assert.ok(v.source.length > 10, `${a.meta.id}.${k} says where its default comes from`);
});

test('solemate-perf analyze prints ranked findings from the store', async () => {
  const path = await import('node:path');
  const { tmpDir } = await import('../helpers.js');
  const { main } = await import('../../src/cli/cli.js');
  const data = path.join(tmpDir(), 'perf.db');
  const store = new SqliteStore(data);
  await store.migrate();
  await store.write([histPoint('http.server.request.duration', { 'http.route': '/slow', 'http.request.method': 'GET', 'http.response.status_code': '200' }, Date.now() - 30_000, Array(50).fill(1.5))]);
  await store.close();
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['analyze', '--data', data, '--window', '5m'], { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
  assert.equal(code, 0);
  assert.match(out.join('\n'), /^ 1\. critical GET \/slow: p95 15\d\d ms {2}\[slow-routes\]\n {4}manual · medium effort · id slow-routes-[0-9a-f]{8}\n {4}impact: /);
  assert.match(err.join('\n'), /n-plus-one: no traces in the window/);
  assert.equal((await main(['analyze', '--window', 'soon'], { out: () => {}, err: () => {}, env: {} })), 2);
});

test('cacheable routes: a hot read-only GET fires with the writers of its tables; a route that writes or errs does not', async () => {
  const { cacheableRoutes } = await import('../../src/analyzers/cacheable-routes.js');
  const span = (name: string, attributes: Record<string, string>, children: unknown[] = []) => ({ traceId: 't', spanId: name, service: 's', instance: 'i', name, kind: 'server', start: 0, duration: 50, status: 'unset', attributes, offset: 0, children });
  const trace = (method: string, route: string, ops: [string, string][], error = false, key?: string) => ({ traceId: route + method + (key ?? ''), start: 0, duration: 50, spans: 1 + ops.length, error, roots: [span(`${method} ${route}`, { 'http.route': route, 'http.request.method': method, ...(key ? { 'solemate.url.key': key } : {}) }, ops.map(([op, table]) => span(`${op} ${table}`, { 'db.operation.name': op, 'db.collection.name': table })))], database: { queries: ops.length, timeMs: 40, waitMs: 40, repeated: [] } });
  const route = (r: string, method = 'GET', avgMs = 50, errorRatio = 0) => ({ route: r, method, requests: 600, requestsPerSecond: 10, avgMs, p95Ms: 2 * avgMs, timeShare: 0.3, errorRatio });
  // facets: 8 traces over 3 URLs (a dozen categories); products: 8 traces, 8 different URLs (100k products)
  const facets = [0, 1, 2, 0, 1, 2, 0, 1].map((c) => trace('GET', '/api/facets', [['SELECT', 'products']], false, `facets-${c}`));
  const products = Array.from({ length: 8 }, (_, i) => trace('GET', '/api/products/:id', [['SELECT', 'products']], false, `product-${i}`));
  // one of the two kept checkouts was refused (409: out of stock): it changed nothing, so half the checkouts empty the cache
  const refused = trace('POST', '/api/checkout', [['UPDATE', 'products']], false, 'refused');
  refused.roots[0].attributes['http.response.status_code'] = '409';
  // sizes: read from a table restocked 20 times a second; 8 traces over 4 URLs
  const sizes = [0, 1, 2, 3, 0, 1, 2, 3].map((c) => trace('GET', '/api/sizes', [['SELECT', 'stock_levels']], false, `sizes-${c}`));
  const restock = trace('POST', '/api/restock', [['UPDATE', 'stock_levels']]);
  const traces = [...facets, ...products, ...sizes, restock, trace('POST', '/api/checkout', [['UPDATE', 'products'], ['INSERT', 'orders']]), refused, trace('GET', '/api/report', [['SELECT', 'orders'], ['UPDATE', 'report_views']]), trace('GET', '/api/flaky', [['SELECT', 'products']], true), trace('GET', '/api/legacy', [['SELECT', 'orders']])];
  const checkout = { ...route('/api/checkout', 'POST'), requestsPerSecond: 0.05 };
  const [r] = await runAnalyzers({ routes: async () => [route('/api/facets'), route('/api/sizes'), { ...route('/api/restock', 'POST'), requestsPerSecond: 20 }, route('/api/products/:id'), checkout, route('/api/report'), route('/api/flaky'), route('/api/fast', 'GET', 3), route('/api/legacy')], traces: async () => traces as never }, { analyzers: [cacheableRoutes as unknown as Analyzer] });
  // ranked by the server time they would save: legacy's whole share, facets' share × its hit ratio
  // sizes: emptied by every restock an entry lives 50 ms (x = 0.07, 7% hits, 2% saved); kept its
  // whole TTL (54 s on average: 80–100% of 60 s) it would hit 99% (30% saved): recommended, but as a
  // cache that may be out of date
  assert.deepEqual(r.findings.map((f) => f.target), [
    { route: '/api/legacy', method: 'GET', tables: 'orders', invalidatedBy: 'POST /api/checkout', ttlMs: '60000' },
    { route: '/api/facets', method: 'GET', tables: 'products', invalidatedBy: 'POST /api/checkout', ttlMs: '60000' },
    { route: '/api/sizes', method: 'GET', tables: 'stock_levels', invalidatedBy: '', ttlMs: '60000', staleAfterWrites: 'POST /api/restock' },
  ]);
  const staleOne = r.findings[2];
  assert.match(staleOne.title, /for 60 s even after writes.*POST \/api\/restock change what it reads 20\.00 times a second/);
  assert.equal(staleOne.evidence.rows[0].hits, '99% (TTL only; 7% emptied by writes)');
  // facets: URLs seen 3, 3 and 2 times → 14 equal ordered pairs of 56 = 0.25; 10 requests/s over an
  // entry life of (1 − e^(−0.025·54)) / 0.025 = 29.6 s (54 s: the TTL less the middleware's jitter,
  // on average) → x = 74.1, hit ratio 99%
  const [legacy, f] = r.findings;
  const x = 10 * (14 / 56) * ((1 - Math.exp(-0.025 * 54)) / 0.025);
  assert.ok(Math.abs(f.impact.estimate - Number((30 * (x / (1 + x))).toFixed(1))) < 1e-9, `${f.impact.estimate}`);
  assert.deepEqual([f.evidence.rows[0].urls, f.evidence.rows[0].hits], ['3 of 8', '99%']);
  assert.match(f.impact.derivedFrom, /8 kept traces ask for 3 distinct URLs.*0\.03 successful writes\/s that empty it/);
  // one trace without a URL key (a source that does not send one): the whole share counts, and says so
  assert.equal(legacy.impact.estimate, 30);
  assert.match(legacy.impact.derivedFrom, /hit ratio is not estimated: 0 of 1 kept traces carry a URL key/);
  const { recommend } = await import('../../src/optimize/recommendations.js');
  const rec = recommend([r]).find((x) => x.title.includes('/api/facets'))!;
  assert.deepEqual(rec.action, { type: 'route-cache', params: { method: 'GET', route: '/api/facets', ttlMs: 60_000, backend: 'memory', maxEntries: 1000, invalidatedBy: ['POST /api/checkout'] } });
  assert.equal(rec.automatic, true);
  const manual = recommend([r]).find((x) => x.title.includes('/api/sizes'))!;
  assert.equal(manual.automatic, false, 'out-of-date answers are a person\'s call');
  assert.deepEqual(manual.action, { type: 'route-cache', params: { method: 'GET', route: '/api/sizes', ttlMs: 60_000, backend: 'memory', maxEntries: 1000, invalidatedBy: [] } });
  assert.match(manual.description, /may be up to 60 s out of date after those writes/);
  assert.equal(manual.approval, undefined);

  // the operator allows /api/sizes a minute out of date in advance (optimization.analyzers): its cache is automatic, same id
  const [allowed] = await runAnalyzers({ routes: async () => [route('/api/facets'), route('/api/sizes'), { ...route('/api/restock', 'POST'), requestsPerSecond: 20 }, route('/api/products/:id'), checkout, route('/api/report'), route('/api/flaky'), route('/api/fast', 'GET', 3), route('/api/legacy')], traces: async () => traces as never }, { analyzers: [cacheableRoutes as unknown as Analyzer], overrides: { 'cacheable-routes': { staleOk: ' /api/sizes, /api/other' } } });
  const sizesRec = recommend([allowed]).find((x) => x.title.includes('/api/sizes'))!;
  assert.equal(sizesRec.id, manual.id);
  assert.equal(sizesRec.automatic, true);
  assert.deepEqual(sizesRec.action, manual.action, 'still not emptied by the restocks');
  assert.match(sizesRec.approval!, /allowed in advance by the operator: optimization\.analyzers\.cacheable-routes\.staleOk lists \/api\/sizes/);
  assert.match(sizesRec.description, /out of date after those writes\. The operator allowed that for this route/);
  assert.equal(recommend([allowed]).find((x) => x.title.includes('/api/facets'))!.approval, undefined, 'a cache the writes empty needs no allowance');
});

test('cacheable routes: the repeat chance and the hit ratio of a TTL cache', async () => {
  const { repeatChance, expectedHitRatio } = await import('../../src/analyzers/cacheable-routes.js');
  assert.equal(repeatChance(['a', 'b', 'c', 'd']), 0);
  assert.equal(repeatChance(['a', 'a', 'a']), 1);
  assert.equal(repeatChance(['a', 'a', 'b', 'b']), 4 / 12);
  assert.equal(repeatChance(['a']), 0);
  // one URL asked 2×/s, kept 60 s: 120 hits per miss
  assert.deepEqual(expectedHitRatio(2, 1, 60, 0), { ratio: 120 / 121, lifetime: 60 });
  // 12 equally likely URLs at 2 requests/s: x = 10
  assert.ok(Math.abs(expectedHitRatio(2, 1 / 12, 60, 0).ratio - 10 / 11) < 1e-12);
  // 100,000 product pages at 9 requests/s: 0.5% of requests would hit
  assert.ok(expectedHitRatio(9, 1e-5, 60, 0).ratio < 0.006);
  // writes every 10 s on average: an entry lives (1 − e^(−6)) / 0.1 ≈ 9.98 s, not 60
  assert.ok(Math.abs(expectedHitRatio(1, 1, 60, 0.1).lifetime - (1 - Math.exp(-6)) / 0.1) < 1e-12);
});
