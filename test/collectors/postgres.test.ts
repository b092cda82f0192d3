// The PostgreSQL collector against a real server with pg_stat_statements preloaded (scripts/services.sh).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { collectPostgres, recordPostgres } from '../../src/collectors/postgres.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { freshDatabase } from '../helpers.js';

const db = await freshDatabase();
const skip = 'skip' in db ? db.skip : false;
after(async () => {
  if (!('skip' in db)) await db.drop();
});

test('reads top statements, table scans, cache ratio, connections, locks and sizes; records gauges', { skip }, async () => {
  const c = new pg.Client({ connectionString: 'url' in db ? db.url : '' });
  await c.connect();
  try {
    const preload = (await c.query('SHOW shared_preload_libraries')).rows[0].shared_preload_libraries as string;
    const before = await collectPostgres(c);
    if (!preload.includes('pg_stat_statements')) {
      assert.equal(before.statementsAvailable, false);
      assert.match(before.notes[0], /pg_stat_statements/);
      return;
    }
    assert.match(before.notes.join(), /CREATE EXTENSION pg_stat_statements/, 'says how to fix it');
    await c.query('CREATE EXTENSION pg_stat_statements');
    await c.query('CREATE TABLE shoes (id int PRIMARY KEY, brand text, price numeric)');
    await c.query("INSERT INTO shoes SELECT g, 'brand ' || (g % 7), g FROM generate_series(1, 2000) g");
    await c.query('ANALYZE shoes');
    for (let i = 0; i < 5; i++) await c.query("SELECT count(*) FROM shoes WHERE brand = 'brand 3'"); // no index: sequential scans
    await c.query('SELECT * FROM shoes WHERE id = $1', [7]);
    // table statistics reach the views when a backend flushes them (PostgreSQL 15: at most once a second)
    await new Promise((r) => setTimeout(r, 1100));
    await c.query('SELECT 1');
    const r = await collectPostgres(c, { limit: 50, replicas: ['postgres://nobody@127.0.0.1:1/x'] });
    assert.equal(r.statementsAvailable, true);
    const scan = r.topStatements.find((s) => s.query.includes('FROM shoes WHERE brand'));
    assert.ok(scan, r.topStatements.map((s) => s.query).join('\n'));
    assert.equal(scan.calls, 5);
    assert.ok(scan.meanMs > 0 && scan.totalMs >= scan.meanMs * 5 * 0.99);
    assert.ok(!scan.query.includes('brand 3'), 'constants are not shown');
    assert.ok(scan.hitRatio !== undefined && scan.hitRatio > 0);
    const shoes = r.tables.find((t) => t.table === 'public.shoes')!;
    assert.ok(shoes.seqScans >= 5, `seq scans ${shoes.seqScans}`);
    assert.ok(shoes.indexScans >= 1);
    assert.ok(shoes.totalBytes > 0 && shoes.indexBytes > 0);
    assert.ok(r.cacheHitRatio! > 0 && r.cacheHitRatio! <= 1);
    assert.ok(r.connections.byState.active >= 1, JSON.stringify(r.connections));
    assert.ok(r.connections.max > 0);
    assert.ok(r.locks.some((l) => l.mode === 'AccessShareLock' && l.granted));
    assert.ok(r.databaseBytes > 1_000_000);
    assert.match(r.notes.join('\n'), /replica 127\.0\.0\.1:1\/x not reachable/);
    assert.ok(!r.notes.join().includes('nobody@'), 'no credentials in notes');
    const recorder = new Recorder({ onWarning: () => {} });
    recordPostgres(r, recorder);
    const points = recorder.collect();
    const seq = points.find((p) => p.metric === 'postgresql.table.scans' && p.attributes.table === 'public.shoes' && p.attributes.type === 'seq');
    assert.equal(seq?.last, shoes.seqScans);
    assert.ok(points.some((p) => p.metric === 'postgresql.statement.mean_time' && String(p.attributes['db.query.text']).includes('shoes')));
  } finally {
    await c.end();
  }
});
