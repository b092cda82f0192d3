// node-postgres instrumentation against a real PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { instrumentPg } from '../../src/instrument/pg.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { currentContext, Tracer } from '../../src/sdk/tracing.js';
import { spawnSync } from 'node:child_process';
import type { MetricPoint } from '../../src/model/metrics.js';
import { freshDatabase } from '../helpers.js';

const db = await freshDatabase();
const skip = 'skip' in db ? db.skip : false;
const url = 'url' in db ? db.url : '';
const recorder = new Recorder({ onWarning: () => {} });
const tracer = new Tracer({ recorder });
let undo: () => void = () => {};
let pool: pg.Pool;

before(async () => {
  if ('skip' in db) return;
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
  await setup.query("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g");
  await setup.end();
  undo = instrumentPg(pg, recorder, { tracer });
  pool = new pg.Pool({ connectionString: url, max: 2 });
});
after(async () => {
  undo();
  await pool?.end();
  if (!('skip' in db)) await db.drop();
});

const durations = (points: MetricPoint[]) => points.filter((p) => p.metric === 'db.client.operation.duration');

test('results, row order and errors are exactly what pg returns without instrumentation', { skip }, async () => {
  const sql = 'SELECT id, name FROM items WHERE id > $1 ORDER BY id DESC';
  const instrumented = await pool.query(sql, [40]);
  undo();
  const plain = await pool.query(sql, [40]);
  const plainErr = await pool.query('SELECT * FROM missing_table').catch((e) => e);
  undo = instrumentPg(pg, recorder, { tracer });
  assert.deepEqual(instrumented.rows, plain.rows);
  assert.deepEqual(instrumented.rows.map((r) => r.id), [50, 49, 48, 47, 46, 45, 44, 43, 42, 41]);
  const err = await pool.query('SELECT * FROM missing_table').catch((e) => e);
  assert.ok(err instanceof pg.DatabaseError);
  assert.equal(err.code, plainErr.code);
  assert.equal(err.message, plainErr.message);
  recorder.collect();
});

test('durations by fingerprint with literals removed; rows; errors with error.type and SQLSTATE', { skip }, async () => {
  recorder.collect();
  for (let i = 1; i <= 3; i++) await pool.query(`SELECT name FROM items WHERE id = ${i}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query({ text: 'SELECT count(*) FROM items WHERE name LIKE $1', values: ['item 1%'] });
  const caught = await client.query("SELECT * FROM items WHERE id = 'not a number'").catch((e) => e);
  assert.equal(caught.code, '22P02');
  await client.end();
  const points = recorder.collect();
  const select = durations(points).find((p) => p.attributes['db.query.text'] === 'SELECT name FROM items WHERE id = ?');
  assert.ok(select, JSON.stringify(durations(points).map((p) => p.attributes)));
  assert.equal(select.count, 3, 'three literals, one series');
  assert.equal(select.attributes['db.operation.name'], 'SELECT');
  assert.equal(select.attributes['db.collection.name'], 'items');
  assert.equal(select.attributes['db.system.name'], 'postgresql');
  assert.ok(select.max > 0 && select.max < 5, 'seconds');
  const failed = durations(points).find((p) => p.attributes['error.type']);
  assert.equal(failed?.attributes['error.type'], 'DatabaseError');
  assert.equal(failed?.attributes['db.response.status_code'], '22P02');
  assert.ok(!JSON.stringify(points).includes('not a number'), 'the literal never leaves the app');
  const rows = points.find((p) => p.metric === 'db.client.response.returned_rows' && p.attributes['db.query.text'] === 'SELECT name FROM items WHERE id = ?');
  assert.equal(rows?.sum, 3);
});

test('callback style still works and keeps the request context; pool gauges and wait time', { skip }, async () => {
  recorder.collect();
  const ctx = tracer.startRequest('HTTP');
  const got = await tracer.run(ctx, () => new Promise<{ one: number; same: boolean }>((resolve, reject) => pool.query('SELECT 1 AS one', (err, res) => (err ? reject(err) : resolve({ one: res.rows[0].one, same: currentContext() === ctx })))));
  assert.equal(got.one, 1);
  assert.equal(got.same, true, 'the app callback runs in its request');
  // three clients wanted from a pool of two: one waits
  const clients = await Promise.all([pool.connect(), pool.connect()]);
  const third = pool.connect();
  await new Promise((r) => setTimeout(r, 30));
  clients[0].release();
  (await third).release();
  clients[1].release();
  const points = recorder.collect();
  const wait = points.find((p) => p.metric === 'db.client.connection.wait_time');
  assert.ok(wait && wait.count >= 3 && wait.max >= 0.02, `the waiting connect took ≥ 20 ms: ${wait?.max}`);
  const used = points.find((p) => p.metric === 'db.client.connection.count' && p.attributes['db.client.connection.state'] === 'used');
  assert.ok(used && used.max === 2, 'both connections were in use at once');
  assert.ok(!JSON.stringify(points).includes('password'));
});

test('inside a request: spans with parent, counts and db time on the context', { skip }, async () => {
  const ctx = tracer.startRequest('HTTP');
  await tracer.run(ctx, async () => {
    for (let i = 1; i <= 4; i++) await pool.query('SELECT name FROM items WHERE id = $1', [i]);
    await pool.query('SELECT pg_sleep(0.02)');
  });
  tracer.endRequest(ctx, 'GET', '/items', 200);
  assert.equal(ctx.dbCalls, 5);
  assert.ok(ctx.dbMs >= 20);
  const db = ctx.spans.filter((s) => s.kind === 'client');
  assert.equal(db.length, 5);
  assert.ok(db.every((s) => s.parentSpanId === ctx.root.spanId && s.duration >= 0 && s.traceId === ctx.root.traceId));
  assert.equal(db[0].name, 'SELECT items');
  assert.equal(db[0].attributes['db.response.returned_rows'], 1);
  assert.equal(ctx.root.attributes['solemate.db.queries'], 5);
});

test('a query that waits for a pool connection is a span of its own request, not of the one that freed the connection', { skip }, async () => {
  // pg-pool hands a queued request its client from inside the releasing request's call stack
  const one = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const a = tracer.startRequest('HTTP');
    const b = tracer.startRequest('HTTP');
    await Promise.all([tracer.run(a, () => one.query('SELECT pg_sleep(0.05)')), tracer.run(b, () => one.query('SELECT name FROM items WHERE id = $1', [7]))]);
    tracer.endRequest(a, 'GET', '/a', 200);
    tracer.endRequest(b, 'GET', '/b', 200);
    assert.deepEqual(a.spans.filter((s) => s.kind === 'client').map((s) => s.name), ['SELECT'], 'A has its own query only');
    assert.deepEqual(b.spans.filter((s) => s.kind === 'client').map((s) => s.name), ['SELECT items'], 'B has the query it waited for');
    assert.equal(b.dbCalls, 1);
  } finally {
    await one.end();
  }
});

test('a rejection nobody handles stays unhandled, as without instrumentation', { skip }, () => {
  // Node's default for an unhandled rejection is to crash: it must still do so
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/pg-unhandled.ts', url], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /relation "nowhere" does not exist/);
});

test('instrumenting twice is a no-op and undo restores pg', { skip }, () => {
  const before = pg.Client.prototype.query;
  const again = instrumentPg(pg, recorder);
  assert.equal(pg.Client.prototype.query, before);
  again();
  assert.equal(pg.Client.prototype.query, before);
});
