// slow-queries against a real PostgreSQL with pg_stat_statements: a filter without an index fires
// with its sequential scans as evidence; the same workload with the index does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { runAnalyzers } from '../../src/analyzers/runner.js';
import { slowQueries } from '../../src/analyzers/slow-queries.js';
import { candidateColumns, missingIndex, selectedColumns } from '../../src/analyzers/missing-index.js';
import type { Analyzer } from '../../src/analyzers/types.js';
import { collectPostgres } from '../../src/collectors/postgres.js';
import { freshDatabase } from '../helpers.js';

// the scan of 400k rows takes 8–30 ms depending on the machine: the thresholds are lowered to 3 ms so
// the test is about the analyzers' logic, not the machine's speed (the indexed query takes < 0.5 ms);
// and no load floor: 15 queries are nothing beside the time since the cluster's statistics began
const LOW_BAR = (id: string, extra: Record<string, unknown>) => ({ 'slow-queries': { meanMs: 3, minLoad: 0 }, [id]: { minMeanMs: 3, ...extra } });

async function workload(withIndex: boolean) {
  const db = await freshDatabase();
  if ('skip' in db) return { skip: db.skip };
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const preload = (await c.query('SHOW shared_preload_libraries')).rows[0].shared_preload_libraries as string;
  if (!preload.includes('pg_stat_statements')) {
    await c.end();
    await db.drop();
    return { skip: 'pg_stat_statements is not preloaded (scripts/services.sh does it)' };
  }
  await c.query('CREATE EXTENSION pg_stat_statements');
  await c.query('CREATE TABLE products (id int PRIMARY KEY, brand int NOT NULL, price int NOT NULL)');
  await c.query('INSERT INTO products SELECT g, g % 500, g % 997 FROM generate_series(1, 400000) g');
  if (withIndex) await c.query('CREATE INDEX products_brand ON products (brand)');
  await c.query('ANALYZE products');
  for (let i = 0; i < 15; i++) await c.query('SELECT id, price FROM products WHERE brand = $1 ORDER BY price LIMIT 20', [i]);
  await new Promise((r) => setTimeout(r, 1100)); // table statistics reach the views within a second
  await c.query('SELECT 1');
  const report = await collectPostgres(c, { limit: 50 });
  return { report, client: c, done: async () => (await c.end(), await db.drop()) };
}

for (const hypopg of [false, true]) {
  test(`missing index: the filter is found, with its sequential scans (${hypopg ? 'HypoPG' : 'trial index'})`, async (t) => {
    const w = await workload(false);
    if ('skip' in w) return t.skip(w.skip);
    t.after(() => w.done!());
    if (hypopg && (await w.client!.query("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'")).rows.length === 0) return t.skip('HypoPG is not installed (apt-get install postgresql-15-hypopg; .ci/run does)');
    const [r, mi] = await runAnalyzers({ postgres: async () => w.report!, database: async () => w.client! }, { analyzers: [slowQueries as unknown as Analyzer, missingIndex as unknown as Analyzer], overrides: LOW_BAR('missing-index', { hypopg }) });
    assert.equal(r.status, 'findings', JSON.stringify(w.report!.topStatements.map((s) => [s.query, s.meanMs, s.calls])));
    const f = r.findings[0];
    assert.equal(f.target.table, 'products');
    assert.match(f.target.statement, /WHERE brand = \$1/);
    assert.match(String(f.evidence.rows[0].seq), /\d+ sequential scans of [\d,]+ rows \(0 index scans\)/); // n_live_tup is an estimate
    assert.ok(f.impact.estimate > 10, `${f.impact.estimate}% of database time (the load itself takes the rest)`);
    assert.ok(Number(f.evidence.rows[0].mean) >= 3, 'over the mean threshold');
    // the index candidate, costed by the planner (hypothetical, or built in a rolled-back transaction)
    assert.equal(mi.status, 'findings', mi.reason);
    assert.equal(mi.findings[0].target.index, 'CREATE INDEX CONCURRENTLY ON products (brand, price)');
    assert.equal(mi.findings[0].target.columns, 'brand,price');
    const ev = mi.findings[0].evidence.rows[0];
    assert.equal(ev.how, hypopg ? 'HypoPG hypothetical index' : 'trial index, rolled back');
    assert.ok(Number(ev.after) < Number(ev.before) / 2, `cost ${ev.before} → ${ev.after}`);
    const left = await w.client!.query("SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'products'");
    assert.equal(left.rows[0].n, 1, 'only the primary key: the candidate left nothing behind');
    const ext = await w.client!.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'hypopg'");
    assert.equal(ext.rows[0].n, 0, 'HypoPG was created inside the rolled-back transaction only');
  });
}

test('missing index: a table with more rows written than scanned gets no index', async (t) => {
  const w = await workload(false);
  if ('skip' in w) return t.skip(w.skip);
  t.after(() => w.done!());
  const report = { ...w.report!, tables: w.report!.tables.map((x) => ({ ...x, rowWrites: 2 * x.seqRowsRead })) };
  const [mi] = await runAnalyzers({ postgres: async () => report, database: async () => w.client! }, { analyzers: [missingIndex as unknown as Analyzer], overrides: LOW_BAR('missing-index', {}) });
  assert.equal(mi.status, 'pass', JSON.stringify(mi.findings.map((f) => f.title)));
});

test('with the index the same workload is clean', async (t) => {
  const w = await workload(true);
  if ('skip' in w) return t.skip(w.skip);
  t.after(() => w.done!());
  const results = await runAnalyzers({ postgres: async () => w.report!, database: async () => w.client! }, { analyzers: [slowQueries as unknown as Analyzer, missingIndex as unknown as Analyzer], overrides: LOW_BAR('missing-index', {}) });
  assert.deepEqual(results.map((r) => r.status), ['pass', 'pass'], JSON.stringify(results.map((r) => r.findings.map((f) => f.title))));
});

test('missing index: a covering INCLUDE variant when its index-only scan is clearly cheaper', async (t) => {
  const w = await workload(false);
  if ('skip' in w) return t.skip(w.skip);
  t.after(() => w.done!());
  await w.client!.query('VACUUM products'); // index-only scans need the visibility map
  for (let i = 0; i < 15; i++) await w.client!.query('SELECT id, price FROM products WHERE brand = $1', [i]);
  await new Promise((r) => setTimeout(r, 1100));
  const report = await collectPostgres(w.client!, { limit: 50 });
  const [mi] = await runAnalyzers({ postgres: async () => report, database: async () => w.client! }, { analyzers: [missingIndex as unknown as Analyzer], overrides: { 'missing-index': { minMeanMs: 3, hypopg: false } } });
  const f = mi.findings.find((x) => x.target.statement === 'SELECT id, price FROM products WHERE brand = $1');
  assert.ok(f, JSON.stringify(mi.findings.map((x) => x.title)));
  assert.equal(f.target.index, 'CREATE INDEX CONCURRENTLY ON products (brand) INCLUDE (id, price)');
  assert.equal(f.target.include, 'id,price');
});

test('selected columns: plain columns of one table, nothing for *, expressions or joins', () => {
  assert.deepEqual(selectedColumns('SELECT id, p.price AS cost FROM products p WHERE brand = $1'), ['id', 'price']);
  assert.equal(selectedColumns('SELECT * FROM products WHERE brand = $1'), undefined);
  assert.equal(selectedColumns('SELECT count(*) FROM products WHERE brand = $1'), undefined);
  assert.equal(selectedColumns('SELECT p.id FROM products p JOIN brands b ON b.id = p.brand WHERE b.id = $1'), undefined);
});

test('candidate columns: equality filters first, then the ORDER BY column', () => {
  assert.deepEqual(candidateColumns('SELECT id FROM products WHERE category_id = $1 AND p.brand_id = $2 ORDER BY price_cents LIMIT $3'), { equal: ['category_id', 'brand_id'], order: 'price_cents' });
  assert.deepEqual(candidateColumns('SELECT * FROM orders WHERE customer_id = ? ORDER BY o.created_at DESC'), { equal: ['customer_id'], order: 'created_at' });
  assert.deepEqual(candidateColumns('SELECT count(*) FROM t'), { equal: [], order: undefined });
});
