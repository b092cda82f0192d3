// Recommendations: ranked by severity then impact, one per problem (a slow statement that an index
// candidate serves is that index; a slow route another recommendation targets is that one), ids
// stable across runs, automatic only where an action exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnalyzerResult, Finding } from '../../src/analyzers/types.js';
import { recommend, routesRunning } from '../../src/optimize/recommendations.js';

const finding = (title: string, severity: Finding['severity'], estimate: number, target: Record<string, string>, rows: Record<string, string | number>[] = []): Finding => ({ severity, title, target, evidence: { headings: [], rows }, impact: { metric: 'm', estimate, unit: '%', derivedFrom: 'test' } });
const result = (id: string, findings: Finding[]): AnalyzerResult => ({ id, title: id, status: findings.length ? 'findings' : 'pass', findings, options: {}, durationMs: 0 });
const CATALOG = 'SELECT id FROM products WHERE category_id = $1 ORDER BY price_cents LIMIT $2';
const FACETS = 'SELECT count(*) FROM products WHERE category_id = $1 GROUP BY brand_id';

const results = [
  result('slow-routes', [finding('GET /api/products: p95 900 ms', 'critical', 40, { route: '/api/products', method: 'GET' }), finding('GET /lonely: p95 700 ms', 'warning', 5, { route: '/lonely', method: 'GET' })]),
  result('slow-queries', [finding('catalog', 'warning', 30, { statement: CATALOG, table: 'products' }), finding('facets', 'warning', 10, { statement: FACETS, table: 'products' }), finding('other', 'warning', 9, { statement: 'SELECT * FROM orders WHERE status = $1', table: 'orders' })]),
  result('missing-index', [finding('index products (category_id, price_cents)', 'warning', 25, { table: 'products', statement: CATALOG, index: 'CREATE INDEX CONCURRENTLY ON products (category_id, price_cents)', columns: 'category_id,price_cents' })]),
  result('compression', [finding('uncompressed', 'critical', 480, { site: 'http://127.0.0.1:3000/' })]),
  result('cache-headers', [finding('no cache headers', 'critical', 9000, { site: 'http://127.0.0.1:3000/' }, [{ url: 'http://127.0.0.1:3000/assets/app.js' }, { url: 'http://127.0.0.1:3000/images/products/1.png' }, { url: 'http://127.0.0.1:3000/images/products/2.png' }])]),
];
const storefront = { traceId: 'b', start: 0, duration: 1, spans: 2, error: false, database: { queries: 1, timeMs: 1, waitMs: 1, repeated: [] }, roots: [{ traceId: 'b', spanId: 'r', service: 's', instance: 'i', name: 'GET /', kind: 'server', start: 0, duration: 1, status: 'unset', offset: 0, attributes: { 'http.route': '/', 'http.request.method': 'GET' }, children: [{ traceId: 'b', spanId: 'c', service: 's', instance: 'i', name: 'SELECT products', kind: 'client', start: 0, duration: 1, status: 'unset', offset: 0, attributes: { 'db.query.text': 'SELECT p.id FROM products p JOIN brands b ON b.id = p.brand_id WHERE p.category_id = $1 ORDER BY p.price_cents, p.id LIMIT $2' }, children: [] }] }] };
const traces = [storefront, { traceId: 'a', start: 0, duration: 1, spans: 2, error: false, database: { queries: 1, timeMs: 1, waitMs: 1, repeated: [] }, roots: [{ traceId: 'a', spanId: 'r', service: 's', instance: 'i', name: 'GET /api/products', kind: 'server', start: 0, duration: 1, status: 'unset', offset: 0, attributes: { 'http.route': '/api/products', 'http.request.method': 'GET' }, children: [{ traceId: 'a', spanId: 'c', service: 's', instance: 'i', name: 'SELECT products', kind: 'client', start: 0, duration: 1, status: 'unset', offset: 0, attributes: { 'db.query.text': 'SELECT id FROM products WHERE category_id = $1 ORDER BY price_cents LIMIT $2' }, children: [] }] }] }];

test('ranked, de-duplicated, with actions where they can be applied', () => {
  const recs = recommend(results, traces as never);
  assert.deepEqual(
    recs.map((r) => [r.priority, r.analyzer, r.title, r.automatic]),
    [
      [1, 'cache-headers', 'no cache headers', true],
      [2, 'compression', 'uncompressed', true],
      [3, 'missing-index', 'index products (category_id, price_cents)', true],
      [4, 'slow-queries', 'other', false],
      [5, 'slow-routes', 'GET /lonely: p95 700 ms', false],
    ],
  );
  const index = recs[2];
  assert.deepEqual(index.action, { type: 'create-index', table: 'products', columns: ['category_id', 'price_cents'] });
  assert.deepEqual(index.routes, [{ method: 'GET', route: '/' }, { method: 'GET', route: '/api/products' }], 'the routes whose traces run the statement or another the index serves: the workflow measures them');
  assert.deepEqual(recs[0].action, { type: 'cache-headers', params: { paths: ['/assets/', '/images/products/'], maxAgeSeconds: 31_536_000, immutable: true }, urls: ['http://127.0.0.1:3000/assets/app.js', 'http://127.0.0.1:3000/images/products/1.png', 'http://127.0.0.1:3000/images/products/2.png'] });
  assert.equal(index.estimatedImprovement.derivedFrom, 'test');
  assert.deepEqual(recommend(results, traces as never).map((r) => r.id), recs.map((r) => r.id), 'ids are stable');
  assert.equal(new Set(recs.map((r) => r.id)).size, recs.length);
});

test('routesRunning matches statements by fingerprint, literals and spacing aside', () => {
  assert.deepEqual(routesRunning('SELECT id FROM products  WHERE category_id = $1 ORDER BY price_cents LIMIT $2', traces as never), [{ method: 'GET', route: '/api/products' }]);
  assert.deepEqual(routesRunning('SELECT id FROM products WHERE category_id = $1 ORDER BY price_cents LIMIT 24', traces as never), [{ method: 'GET', route: '/api/products' }], 'a literal where the app sent a parameter');
  assert.deepEqual(routesRunning('SELECT 1', traces as never), []);
});

test('applied in order: work-removing settings, then indexes, then CPU-for-bytes settings; priority within each', async () => {
  const { applyOrder } = await import('../../src/optimize/service.js');
  const of = (title: string, type: string) => ({ title, action: { type } as never });
  const list = [of('compression', 'compression'), of('cache headers', 'cache-headers'), of('index a', 'create-index'), of('facets cache', 'route-cache'), of('index b', 'create-index'), of('pool', 'pool-size')];
  assert.deepEqual(applyOrder(list).map((x) => x.title), ['facets cache', 'pool', 'index a', 'index b', 'compression', 'cache headers']);
});
