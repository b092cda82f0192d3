// The runtime analyzers (event loop, memory growth, CPU → instances, pool saturation) and the
// database-shape analyzers (unused/duplicate indexes, read replicas, partitioning), each on data
// where it must fire and data where it must not; unused/duplicate indexes also on a real PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { runAnalyzers, storeCollector } from '../../src/analyzers/runner.js';
import type { Analyzer, AnalyzerResult, Inputs, RuntimeStats } from '../../src/analyzers/types.js';
import { eventLoop } from '../../src/analyzers/event-loop.js';
import { memoryGrowth } from '../../src/analyzers/memory-growth.js';
import { cpuSaturation } from '../../src/analyzers/cpu-saturation.js';
import { poolSaturation } from '../../src/analyzers/pool-saturation.js';
import { unusedIndexes } from '../../src/analyzers/unused-indexes.js';
import { readReplicas } from '../../src/analyzers/read-replicas.js';
import { partitioning } from '../../src/analyzers/partitioning.js';
import { collectPostgres, type PostgresReport } from '../../src/collectors/postgres.js';
import { recommend } from '../../src/optimize/recommendations.js';
import { QueryEngine } from '../../src/query/engine.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { PerformanceTrend } from '../../src/query/trends.js';
import { freshDatabase, testConfig } from '../helpers.js';
import { histPoint } from '../store/contract.js';
import type { MetricPoint } from '../../src/model/metrics.js';

const gauge = (metric: string, attributes: Record<string, string>, time: number, v: number, unit: string): MetricPoint => ({ metric, kind: 'gauge', unit, service: 'shop', instance: 'a', attributes, startTime: time - 10_000, time, count: 1, sum: v, min: v, max: v, last: v });
const run = async (a: unknown, inputs: Partial<Inputs>) => (await runAnalyzers(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, async () => v])), { analyzers: [a as Analyzer] }))[0];
const service = (over: Partial<RuntimeStats['services'][number]> = {}): RuntimeStats['services'][number] => ({ service: 'shop', instances: 1, requestsPerSecond: 100, eventLoopP99Ms: 12, cpuAvg: 0.3, cpuMax: 0.5, heapLimitBytes: 2 * 1024 ** 3, heap: undefined, ...over });
const runtime = (s: RuntimeStats['services'], more: Partial<RuntimeStats> = {}): RuntimeStats => ({ services: s, pools: [], caches: [], capacity: undefined, ...more });
const trend = (over: Partial<PerformanceTrend>): PerformanceTrend => ({ metricName: 'v8js.memory.heap.used', period: '60m', statistic: 'avg', unit: 'By', dataPoints: [{ timestamp: '', value: 500 * 1024 ** 2 }], trend: 'stable', change: 0, slopePerHour: 0, pValue: 0.5, method: 'Theil–Sen slope over 20 buckets of 3 min; Mann–Kendall test, α = 0.05', ...over });
const statuses = (r: AnalyzerResult) => [r.status, r.findings.map((f) => f.severity)];

test('event loop: a p99 delay over 100 ms fires, a healthy loop does not', async () => {
  const bad = await run(eventLoop, { runtime: runtime([service({ eventLoopP99Ms: 640 })]) });
  assert.deepEqual(statuses(bad), ['findings', ['critical']]);
  assert.match(bad.findings[0].title, /p99 640 ms/);
  assert.deepEqual(statuses(await run(eventLoop, { runtime: runtime([service()]) })), ['pass', []]);
  assert.equal((await run(eventLoop, { runtime: runtime([service({ eventLoopP99Ms: undefined })]) })).status, 'not_applicable');
});

test('memory growth: a significant rising heap fires with the hours left; a flat one does not', async () => {
  const leak = trend({ trend: 'degrading', change: 40, slopePerHour: 300 * 1024 ** 2, pValue: 0.001, dataPoints: [{ timestamp: '', value: 1024 ** 3 }] });
  const r = await run(memoryGrowth, { runtime: runtime([service({ heap: leak })]) });
  assert.deepEqual(statuses(r), ['findings', ['critical']]);
  assert.equal(r.findings[0].impact.estimate, 3.4, '(2 GiB − 1 GiB) / 300 MiB per hour');
  assert.deepEqual(statuses(await run(memoryGrowth, { runtime: runtime([service({ heap: trend({}) })]) })), ['pass', []]);
  assert.deepEqual(statuses(await run(memoryGrowth, { runtime: runtime([service({ heap: trend({ trend: 'degrading', change: 4, slopePerHour: 1 }) })]) })), ['pass', []], 'growth under 10% is noise');
});

test('CPU saturation: instances from the capacity fit when there is one, else from the CPU', async () => {
  const hot = service({ cpuAvg: 0.9, cpuMax: 1, instances: 2, requestsPerSecond: 900 });
  const byCpu = await run(cpuSaturation, { runtime: runtime([hot]) });
  assert.equal(byCpu.findings[0].target.instances, '3', '2 × 0.9 / 0.6');
  assert.match(byCpu.findings[0].impact.derivedFrom, /no stress run/);
  const byFit = await run(cpuSaturation, { runtime: runtime([hot], { capacity: { runId: 'run-1', scenario: 'shop', peakThroughput: 250, peakConcurrency: 32, derivedFrom: 'USL fit' } }) });
  assert.equal(byFit.findings[0].target.instances, '6', '900 × 1.5 / 250 = 5.4 → 6');
  assert.match(byFit.findings[0].impact.derivedFrom, /stress run run-1/);
  assert.deepEqual(statuses(await run(cpuSaturation, { runtime: runtime([service()]) })), ['pass', []]);
});

test('pool saturation: queued acquires fire with a size; a pool without waits does not', async () => {
  const r = await run(poolSaturation, { runtime: runtime([], { pools: [{ service: 'shop', pool: 'db', waitP95Ms: 80, pendingMax: 12, usedMax: 10 }] }) });
  assert.deepEqual(statuses(r), ['findings', ['critical']]);
  assert.equal(r.findings[0].target.size, '22');
  assert.deepEqual(statuses(await run(poolSaturation, { runtime: runtime([], { pools: [{ service: 'shop', pool: 'db', waitP95Ms: 0.2, pendingMax: 0, usedMax: 3 }] }) })), ['pass', []]);
});

test('cache hit ratio: a cache that mostly misses fires; a warm one does not', async () => {
  const { cacheHitRatio } = await import('../../src/analyzers/cache-hit-ratio.js');
  const r = await run(cacheHitRatio, { runtime: runtime([], { caches: [{ service: 'shop', prefix: 'facets', hits: 20, misses: 380 }, { service: 'shop', prefix: 'cart', hits: 900, misses: 100 }] }) });
  assert.deepEqual(r.findings.map((f) => [f.title, f.severity]), [['shop cache facets: 5% hits', 'warning']]);
});

test('the runtime input is read from stored metrics', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const now = Date.UTC(2026, 10, 26, 12);
  const t = now - 60_000;
  await store.write([
    gauge('nodejs.eventloop.delay', { quantile: 'p99' }, t, 0.3, 's'),
    gauge('process.cpu.utilization', {}, t, 0.92, '1'),
    histPoint('db.client.connection.wait_time', { 'db.client.connection.pool.name': 'db' }, t, Array(50).fill(0.04)),
    gauge('db.client.connection.pending_requests', { 'db.client.connection.pool.name': 'db' }, t, 7, '{request}'),
    histPoint('http.server.request.duration', { 'http.route': '/', 'http.request.method': 'GET', 'http.response.status_code': '200' }, t, Array(60).fill(0.01)),
    { ...gauge('solemate.cache.requests', { 'cache.prefix': 'facets', 'cache.result': 'hit' }, t, 30, '{request}'), kind: 'counter' },
    { ...gauge('solemate.cache.requests', { 'cache.prefix': 'facets', 'cache.result': 'miss' }, t, 70, '{request}'), kind: 'counter' },
  ]);
  const rt = await storeCollector(new QueryEngine(store, testConfig(), () => now), store, 5 * 60_000, now).runtime();
  const s = rt.services.find((x) => x.service === 'shop')!;
  assert.equal(Math.round(s.eventLoopP99Ms!), 300);
  assert.equal(s.cpuAvg, 0.92);
  assert.equal(rt.pools.length, 1);
  assert.ok(Math.abs(rt.pools[0].waitP95Ms - 40) < 1, `${rt.pools[0].waitP95Ms}`);
  assert.equal(rt.pools[0].pendingMax, 7);
  assert.deepEqual(rt.caches, [{ service: 'shop', prefix: 'facets', hits: 30, misses: 70 }]);
  await store.close();
});

const report = (over: Partial<PostgresReport>): PostgresReport => ({ at: '2026-11-26T12:00:00.000Z', database: 'shop', version: '15', statementsAvailable: true, topStatements: [], statementsTotalMs: 0, statementsReadMs: 0, statementsSince: '2026-11-26T11:00:00.000Z', tables: [], indexes: [], statsReset: undefined, cacheHitRatio: 0.99, connections: { byState: {}, waitingOnLocks: 0, max: 100 }, locks: [], databaseBytes: 0, replication: [], notes: [], ...over });

test('read replicas: a busy, read-mostly database fires; a quiet or write-heavy one does not', async () => {
  const hour = 3_600_000;
  const busy = await run(readReplicas, { postgres: report({ statementsTotalMs: 2.5 * hour, statementsReadMs: 2.2 * hour }) });
  assert.deepEqual(statuses(busy), ['findings', ['warning']]);
  assert.match(busy.findings[0].title, /2\.5 active sessions on average, 88% of the time in reads/);
  assert.deepEqual(statuses(await run(readReplicas, { postgres: report({ statementsTotalMs: 0.2 * hour, statementsReadMs: 0.19 * hour }) })), ['pass', []], 'quiet');
  assert.deepEqual(statuses(await run(readReplicas, { postgres: report({ statementsTotalMs: 3 * hour, statementsReadMs: 1 * hour }) })), ['pass', []], 'write-heavy');
});

test('unused and duplicate indexes on a real PostgreSQL; then partitioning of an append-mostly table read by time', async (t) => {
  const db = await freshDatabase();
  if ('skip' in db) return t.skip(db.skip);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  t.after(async () => {
    await c.end();
    await db.drop();
  });
  await c.query('CREATE TABLE events (id bigserial PRIMARY KEY, account int NOT NULL, kind text NOT NULL, at timestamptz NOT NULL, note text)');
  await c.query("INSERT INTO events (account, kind, at, note) SELECT g % 1000, 'k' || (g % 7), now() - (g || ' seconds')::interval, md5(g::text) || md5((g + 1)::text) FROM generate_series(1, 60000) g");
  await c.query('CREATE INDEX events_account ON events (account)');
  await c.query('CREATE INDEX events_account_at ON events (account, at)');
  await c.query('CREATE INDEX events_note ON events (note)');
  await c.query('CREATE UNIQUE INDEX events_kind_id ON events (kind, id)');
  await c.query('ANALYZE events');
  await c.query('SET enable_seqscan = off');
  for (let i = 0; i < 5; i++) await c.query('SELECT count(*) FROM events WHERE account = $1 AND at > now() - interval $$1 hour$$', [i]);
  await c.query('RESET enable_seqscan');
  await new Promise((r) => setTimeout(r, 1100));
  const pgr = await collectPostgres(c, { limit: 50 });
  const r = await run(unusedIndexes, { postgres: pgr });
  const kinds = r.findings.map((f) => [f.target.index, f.target.kind]).sort();
  assert.deepEqual(kinds, [['events_account', 'duplicate'], ['events_note', 'unused']], JSON.stringify(pgr.indexes));
  assert.deepEqual(recommend([r]).map((x) => [x.type, x.automatic]), [['database', false], ['database', false]], 'dropping indexes this product did not create is for a person');

  // partitioning: the same table counts as large with the size bar lowered
  const ranged = { ...pgr, topStatements: [{ queryId: '1', query: 'SELECT count(*) FROM events WHERE account = $1 AND at > now() - interval $2', calls: 500, totalMs: 9000, meanMs: 18, rows: 500, hitRatio: 1 }], statementsTotalMs: 12000 };
  const p = (await runAnalyzers({ postgres: async () => ranged, database: async () => c }, { analyzers: [partitioning as unknown as Analyzer], overrides: { partitioning: { minBytes: 1024 } } }))[0];
  assert.deepEqual(statuses(p), ['findings', ['warning']]);
  assert.deepEqual(p.findings[0].target, { table: 'public.events', column: 'at' });
  assert.equal(p.findings[0].impact.estimate, 75);
  const small = (await runAnalyzers({ postgres: async () => ranged, database: async () => c }, { analyzers: [partitioning as unknown as Analyzer] }))[0];
  assert.deepEqual(statuses(small), ['pass', []], 'a few MB is no case for partitions');
  const updated = { ...ranged, tables: ranged.tables.map((x) => ({ ...x, rowInserts: Math.round(x.rowWrites / 2) })) };
  const churn = (await runAnalyzers({ postgres: async () => updated, database: async () => c }, { analyzers: [partitioning as unknown as Analyzer], overrides: { partitioning: { minBytes: 1024 } } }))[0];
  assert.deepEqual(statuses(churn), ['pass', []], 'a table that is updated as much as inserted is not append-mostly');
});

test('slow queries: a slow statement with a twentieth of the database time fires, a slow but rare one does not, nor one of an idle database', async () => {
  const { slowQueries } = await import('../../src/analyzers/slow-queries.js');
  const stmt = (query: string, calls: number, meanMs: number) => ({ queryId: query, query, calls, totalMs: calls * meanMs, meanMs, rows: calls, hitRatio: 1 });
  const statements = { topStatements: [stmt('SELECT a FROM t WHERE x = $1', 100, 15), stmt('SELECT b FROM u WHERE y = $1', 12, 15)], statementsTotalMs: 20_000 };
  // 1500 ms in the 20 s since pg_stat_statements began counting: 0.075 active sessions
  const r = await run(slowQueries, { postgres: report({ ...statements, statementsSince: '2026-11-26T11:59:40.000Z' }) });
  assert.deepEqual(r.findings.map((f) => f.target.statement), ['SELECT a FROM t WHERE x = $1'], '1500 ms of 20 s fires; 180 ms (0.9%) does not');
  assert.equal(r.findings[0].evidence.rows[0].load, 0.075);
  assert.match(r.findings[0].impact.derivedFrom, /0\.075 active sessions on average over the 20 s since/);
  // the same counts over an hour: 7.5% of the database's time, but the database is idle (0.0004 sessions)
  assert.deepEqual(statuses(await run(slowQueries, { postgres: report(statements) })), ['pass', []]);
  // no time base (PostgreSQL before 14): the share alone decides
  assert.equal((await run(slowQueries, { postgres: report({ ...statements, statementsSince: undefined }) })).findings.length, 1);
});
