import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tmpDir } from '../helpers.js';
import { gaugePoint, histPoint, storeContract } from './contract.js';

storeContract('sqlite', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'nested', 'perf.db');
  const open = async () => {
    const s = new SqliteStore(file);
    await s.migrate();
    return s;
  };
  return { store: await open(), reopen: open, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

// Rollup and retention run in steps (src/store/sqlite.ts): small steps here, so the tests see many.
test('rollup in steps of series rolls every series of the hour, and the event loop runs between steps', async () => {
  const store = new SqliteStore(':memory:', { seriesPerStep: 7 });
  await store.migrate();
  const hour = Date.UTC(2026, 11, 7, 10);
  await store.write(Array.from({ length: 50 }, (_, i) => [histPoint('lat', { route: `/r${i}` }, hour + 60_000, [0.1]), histPoint('lat', { route: `/r${i}` }, hour + 120_000, [0.2, 0.3])]).flat());
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  assert.equal(await store.rollup(hour + 2 * 3_600_000), 1);
  clearInterval(timer);
  assert.ok(ticks > 0, 'timers ran while it rolled up');
  const series = await store.listSeries(['lat']);
  const rows = await store.readRows(series.map((s) => s.id), hour, hour + 3_600_000, 'hour');
  assert.equal(rows.length, 50);
  assert.ok(rows.every((r) => r.count === 3 && r.t === hour));
  assert.equal(await store.hourWatermark(), hour + 3_600_000);
  await store.close();
});

test('retention in steps deletes everything before the cut, also when more rows than a step share one time', async () => {
  const store = new SqliteStore(':memory:', { seriesPerStep: 7, rowsPerDelete: 10 });
  await store.migrate();
  const hour = Date.UTC(2026, 11, 7, 10);
  // 40 series in the same two minutes: 40 rows share each time, four steps' worth
  await store.write(Array.from({ length: 40 }, (_, i) => [gaugePointOf(i, hour + 60_000), gaugePointOf(i, hour + 120_000), gaugePointOf(i, hour + 3 * 3_600_000)]).flat());
  await store.rollup(hour + 4 * 3_600_000);
  const { minutes } = await store.applyRetention(hour + 4 * 3_600_000, { minuteMs: 2 * 3_600_000, hourMs: 86_400_000 });
  assert.equal(minutes, 80);
  const series = await store.listSeries(['g']);
  assert.equal((await store.readRows(series.map((s) => s.id), 0, hour + 5 * 3_600_000, 'minute')).length, 40, 'the minutes after the cut stay');
  await store.close();
});

function gaugePointOf(i: number, time: number) {
  return { ...gaugePoint('g', time, i), attributes: { n: String(i) } };
}
