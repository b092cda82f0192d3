// Embedded store: ingest rate (series-minutes per second, each a histogram rollup, committed with
// synchronous=FULL) and a 7-day query over 50 series of one metric. The engine comparison behind
// docs/decisions.md (SQLite vs DuckDB) runs in the same process: same rows, same disk.
//   node --import tsx bench/store.ts
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { SqliteStore } from '../src/store/sqlite.js';
import { QueryEngine } from '../src/query/engine.js';
import { encodeHistogram } from '../src/store/codec.js';
import { ExpHistogram } from '../src/model/histogram.js';
import type { MetricPoint } from '../src/model/metrics.js';
import { testConfig, tmpDir } from '../test/helpers.js';
import { fmt, machine, median, save, table } from './lib.js';

const SERIES = 50;
const DAYS = 7;
const MINUTE = 60_000;
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE;
const BATCH = 5000;

// A realistic per-minute latency histogram: ~200 requests spread over ~40 buckets.
const template = new ExpHistogram();
for (let i = 0; i < 200; i++) template.record(0.02 * Math.exp(((i * 7919) % 200) / 100 - 1));
const hist = template.toData();
const point = (s: number, t: number): MetricPoint => ({ metric: 'http.server.request.duration', kind: 'histogram', unit: 's', service: 'shop', instance: 'a', attributes: { 'http.route': `/route/${s}`, 'http.request.method': 'GET', 'http.response.status_code': '200' }, startTime: t - MINUTE, time: t, count: template.count, sum: template.sum, min: template.min, max: template.max, last: 0, hist });

const dir = tmpDir('solemate-bench-');
const store = new SqliteStore(path.join(dir, 'perf.db'));
await store.migrate();

// 1. Ingest: 7 days × 50 series of minute rollups, in batches as OTLP requests would bring them.
const minutes = DAYS * 1440;
const total = minutes * SERIES;
let batch: MetricPoint[] = [];
const batchTimes: number[] = [];
const t0 = performance.now();
for (let m = minutes; m >= 1; m--) {
  for (let s = 0; s < SERIES; s++) batch.push(point(s, NOW - m * MINUTE + 1000));
  if (batch.length >= BATCH) {
    const b0 = performance.now();
    await store.write(batch);
    batchTimes.push(performance.now() - b0);
    batch = [];
  }
}
if (batch.length) await store.write(batch);
const ingestSeconds = (performance.now() - t0) / 1000;
const ingestRate = total / ingestSeconds;
const batchRate = BATCH / (median(batchTimes) / 1000);

await store.rollup(NOW);
const engine = new QueryEngine(store, testConfig(), () => NOW);
const time = async (fn: () => Promise<unknown>) => {
  await fn();
  const xs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const a = performance.now();
    await fn();
    xs.push(performance.now() - a);
  }
  return median(xs);
};
const metrics7d = await time(() => engine.getPerformanceMetrics({ from: NOW - DAYS * 86_400_000, to: NOW }));
const trend7d = await time(() => engine.getPerformanceTrends('http.server.request.duration', '7d'));
const metrics1h = await time(() => engine.getPerformanceMetrics({ from: NOW - 3_600_000, to: NOW }));
const check = await engine.getPerformanceMetrics({ from: NOW - DAYS * 86_400_000, to: NOW });
if (check.throughput.requests !== total * template.count) throw new Error(`query lost data: ${check.throughput.requests} != ${total * template.count}`);
const dbBytes = fs.statSync(path.join(dir, 'perf.db')).size;
await store.close();

// 2. Engine comparison on the same rows: plain inserts of minute rows with a histogram blob, and
//    reading 7 days × 50 series back. SQLite through better-sqlite3 vs DuckDB through its appender.
const blob = encodeHistogram(hist);
const ROWS = 200_000;
const Database = (await import('better-sqlite3')).default;
const sq = new Database(path.join(dir, 'cmp.sqlite'));
sq.pragma('journal_mode = WAL');
sq.pragma('synchronous = FULL');
sq.exec('CREATE TABLE p (series_id INTEGER, t INTEGER, count REAL, sum REAL, hist BLOB, PRIMARY KEY (series_id, t)) WITHOUT ROWID');
const ins = sq.prepare('INSERT INTO p VALUES (?, ?, ?, ?, ?)');
let a = performance.now();
for (let i = 0; i < ROWS; i += BATCH) sq.transaction(() => {
  for (let k = i; k < i + BATCH; k++) ins.run(k % SERIES, Math.floor(k / SERIES) * MINUTE, 200, 4.2, blob);
})();
const sqliteInsert = ROWS / ((performance.now() - a) / 1000);
a = performance.now();
const sqRows = sq.prepare('SELECT * FROM p WHERE series_id BETWEEN 0 AND 49 AND t >= 0').all().length;
const sqliteRead = performance.now() - a;
sq.close();

const duck = await DuckDBInstance.create(path.join(dir, 'cmp.duckdb'));
const conn = await duck.connect();
await conn.run('CREATE TABLE p (series_id INTEGER, t BIGINT, count DOUBLE, sum DOUBLE, hist BLOB, PRIMARY KEY (series_id, t))');
a = performance.now();
for (let i = 0; i < ROWS; i += BATCH) {
  const app = await conn.createAppender('p');
  for (let k = i; k < i + BATCH; k++) {
    app.appendInteger(k % SERIES);
    app.appendBigInt(BigInt(Math.floor(k / SERIES) * MINUTE));
    app.appendDouble(200);
    app.appendDouble(4.2);
    app.appendBlob(blob);
    app.endRow();
  }
  app.closeSync(); // commits the batch
}
await conn.run('CHECKPOINT');
const duckInsert = ROWS / ((performance.now() - a) / 1000);
a = performance.now();
const duckRows = (await conn.runAndReadAll('SELECT * FROM p WHERE series_id BETWEEN 0 AND 49 AND t >= 0')).getRows().length;
const duckRead = performance.now() - a;
conn.closeSync();
fs.rmSync(dir, { recursive: true, force: true });

const result = {
  ingest: { seriesMinutes: total, seconds: ingestSeconds, perSecondOverall: ingestRate, perSecondMedianBatch: batchRate, target: 100_000, dbMB: dbBytes / 2 ** 20 },
  queryMs: { metrics7d, trend7d, metrics1h, target: 100 },
  engines: { rows: ROWS, sqliteInsertPerSec: sqliteInsert, duckdbInsertPerSec: duckInsert, sqliteReadMs: sqliteRead, duckdbReadMs: duckRead, sqRows, duckRows },
};
save('store', result);
console.log(`machine: ${machine()}\n`);
console.log(table(['embedded store (SQLite, WAL, synchronous=FULL)', 'result', 'target'], [
  [`ingest ${total.toLocaleString()} histogram series-minutes (batches of ${BATCH})`, `${Math.round(ingestRate).toLocaleString()} /s overall, ${Math.round(batchRate).toLocaleString()} /s median batch`, '≥ 100,000 /s'],
  ['getPerformanceMetrics, 7 days × 50 series', `${fmt(metrics7d)} ms`, '≤ 100 ms'],
  ['getPerformanceTrends, 7 days × 50 series', `${fmt(trend7d)} ms`, '≤ 100 ms'],
  ['getPerformanceMetrics, last hour × 50 series', `${fmt(metrics1h)} ms`, ''],
]));
console.log(`\n${table(['engine (same rows, same disk)', 'insert rows/s', `read ${ROWS.toLocaleString()} rows`], [
  ['SQLite 3 (better-sqlite3, WAL, FULL)', Math.round(sqliteInsert).toLocaleString(), `${fmt(sqliteRead)} ms`],
  ['DuckDB (@duckdb/node-api appender)', Math.round(duckInsert).toLocaleString(), `${fmt(duckRead)} ms`],
])}`);
