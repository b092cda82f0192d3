// ONE contract for every Store backend: sqlite.test.ts and postgres.test.ts run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpHistogram } from '../../src/model/histogram.js';
import type { MetricPoint } from '../../src/model/metrics.js';
import { HOUR, MINUTE } from '../../src/store/rows.js';
import type { SpanRow, Store } from '../../src/store/store.js';

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);

export function histPoint(metric: string, attrs: Record<string, string>, time: number, values: number[]): MetricPoint {
  const h = new ExpHistogram();
  for (const v of values) h.record(v);
  return { metric, kind: 'histogram', unit: 's', service: 'shop', instance: 'a', attributes: attrs, startTime: time - 10_000, time, count: h.count, sum: h.sum, min: h.min, max: h.max, last: 0, hist: h.toData() };
}

export function gaugePoint(metric: string, time: number, v: number): MetricPoint {
  return { metric, kind: 'gauge', unit: '1', service: 'shop', instance: 'a', attributes: {}, startTime: time - 10_000, time, count: 1, sum: v, min: v, max: v, last: v };
}

export function span(traceId: string, spanId: string, o: Partial<SpanRow> = {}): SpanRow {
  return { traceId, spanId, service: 'shop', instance: 'a', name: 'GET /products/:id', kind: 'server', start: T0, duration: 12.5, status: 'unset', attributes: { 'http.route': '/products/:id', 'http.response.status_code': 200 }, ...o };
}

export function storeContract(name: string, open: () => Promise<{ store: Store; reopen?: () => Promise<Store>; cleanup: () => Promise<void> }>): void {
  const withStore = (title: string, fn: (store: Store, reopen?: () => Promise<Store>) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const { store, reopen, cleanup } = await open();
      try {
        await fn(store, reopen);
      } finally {
        await store.close().catch(() => {});
        await cleanup();
      }
    });

  withStore('points of one series and minute merge into one rollup', async (store) => {
    await store.write([histPoint('lat', { route: '/a' }, T0 + 10_000, [0.1, 0.2])]);
    await store.write([histPoint('lat', { route: '/a' }, T0 + 20_000, [0.3]), histPoint('lat', { route: '/a' }, T0 + 30_000, [0.4])]);
    const [series] = await store.listSeries(['lat']);
    const rows = await store.readRows([series.id], T0, T0 + MINUTE, 'minute');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].count, 4);
    assert.ok(Math.abs(rows[0].sum - 1.0) < 1e-9);
    assert.equal(rows[0].min, 0.1);
    assert.equal(rows[0].max, 0.4);
    const h = new ExpHistogram();
    h.merge({ ...rows[0], hist: rows[0].hist! });
    assert.ok(Math.abs(h.quantile(1) - 0.4) / 0.4 < 0.01);
  });

  withStore('listMetrics counts each metric\'s series in the store, by name', async (store) => {
    await store.write([histPoint('lat', { route: '/a' }, T0, [0.1]), histPoint('lat', { route: '/b' }, T0, [0.1]), gaugePoint('cpu', T0, 0.5)]);
    assert.deepEqual(await store.listMetrics(), [
      { name: 'cpu', kind: 'gauge', unit: '1', series: 1 },
      { name: 'lat', kind: 'histogram', unit: 's', series: 2 },
    ]);
  });

  withStore('a delta ending on a minute boundary belongs to the minute before', async (store) => {
    await store.write([gaugePoint('g', T0 + MINUTE, 1)]);
    const [s] = await store.listSeries(['g']);
    const rows = await store.readRows([s.id], T0, T0 + 2 * MINUTE, 'minute');
    assert.equal(rows[0].t, T0);
  });

  withStore('gauge rollup keeps the latest value regardless of write order', async (store) => {
    await store.write([gaugePoint('g', T0 + 30_000, 7)]);
    await store.write([gaugePoint('g', T0 + 10_000, 3)]);
    const [s] = await store.listSeries(['g']);
    const [row] = await store.readRows([s.id], T0, T0 + MINUTE, 'minute');
    assert.equal(row.last, 7);
    assert.equal(row.count, 2);
    assert.equal(row.min, 3);
  });

  withStore('series are keyed by metric, service, instance and attributes', async (store) => {
    await store.write([histPoint('lat', { route: '/a' }, T0 + 1000, [1]), histPoint('lat', { route: '/b' }, T0 + 1000, [1]), gaugePoint('cpu', T0 + 1000, 0.5)]);
    await store.write([histPoint('lat', { route: '/a' }, T0 + 2000, [1])]);
    const lat = await store.listSeries(['lat']);
    assert.deepEqual(lat.map((s) => s.attributes.route).sort(), ['/a', '/b']);
    assert.equal((await store.listSeries()).length, 3);
    assert.equal(lat[0].kind, 'histogram');
    assert.equal(lat[0].unit, 's');
  });

  withStore('readRows honours the range and orders by time', async (store) => {
    const points = [];
    for (let m = 0; m < 10; m++) points.push(gaugePoint('g', T0 + m * MINUTE + 5000, m));
    await store.write(points.reverse());
    const [s] = await store.listSeries(['g']);
    const rows = await store.readRows([s.id], T0 + 2 * MINUTE, T0 + 5 * MINUTE, 'minute');
    assert.deepEqual(rows.map((r) => r.last), [2, 3, 4]);
    assert.deepEqual(await store.readRows([], T0, T0 + HOUR, 'minute'), []);
  });

  withStore('rollup builds hourly rows, moves the watermark, and late writes still reach the hour', async (store) => {
    const points = [];
    for (let m = 0; m < 120; m++) points.push(histPoint('lat', {}, T0 + m * MINUTE + 1000, [0.01 * (1 + (m % 5))]));
    await store.write(points);
    assert.equal(await store.hourWatermark(), 0);
    const rolled = await store.rollup(T0 + 2 * HOUR + 10 * MINUTE);
    assert.equal(rolled, 2);
    assert.equal(await store.hourWatermark(), T0 + 2 * HOUR);
    assert.equal(await store.rollup(T0 + 2 * HOUR + 10 * MINUTE), 0, 'rollup is idempotent');
    const [s] = await store.listSeries(['lat']);
    let hours = await store.readRows([s.id], T0, T0 + 2 * HOUR, 'hour');
    assert.deepEqual(hours.map((h) => h.count), [60, 60]);
    await store.write([histPoint('lat', {}, T0 + 30 * MINUTE, [5])]); // arrives after its hour was rolled up
    hours = await store.readRows([s.id], T0, T0 + HOUR, 'hour');
    assert.equal(hours[0].count, 61);
    assert.equal(hours[0].max, 5);
  });

  withStore('retention drops old minutes only once rolled up, and old hours', async (store) => {
    await store.write([gaugePoint('g', T0 + 1000, 1), gaugePoint('g', T0 + 3 * HOUR + 1000, 2)]);
    const [s] = await store.listSeries(['g']);
    let r = await store.applyRetention(T0 + 4 * HOUR, { minuteMs: HOUR, hourMs: 30 * 24 * HOUR });
    assert.equal(r.minutes, 0, 'nothing rolled up yet, so nothing deleted');
    await store.rollup(T0 + 4 * HOUR);
    r = await store.applyRetention(T0 + 4 * HOUR, { minuteMs: HOUR, hourMs: 30 * 24 * HOUR });
    assert.equal(r.minutes, 1);
    assert.equal((await store.readRows([s.id], T0, T0 + 5 * HOUR, 'minute')).length, 1);
    assert.equal((await store.readRows([s.id], T0, T0 + 5 * HOUR, 'hour')).length, 1);
    r = await store.applyRetention(T0 + 40 * 24 * HOUR, { minuteMs: HOUR, hourMs: 30 * 24 * HOUR });
    assert.equal(r.hours, 1);
  });

  withStore('spans: traces listed by entry span, slowest first, with filters; a trace comes back whole', async (store) => {
    const a = 'a'.repeat(32);
    const b = 'b'.repeat(32);
    const c = 'c'.repeat(32);
    await store.writeSpans([
      span(a, '1'.repeat(16), { duration: 40 }),
      span(a, '2'.repeat(16), { parentSpanId: '1'.repeat(16), kind: 'client', name: 'SELECT products', start: T0 + 1, duration: 30, attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM products WHERE id = $1', 'db.response.returned_rows': 1 } }),
      span(b, '3'.repeat(16), { duration: 90, start: T0 + 5000, attributes: { 'http.route': '/orders', 'http.response.status_code': 500 }, status: 'error', statusMessage: '500' }),
      // continued from a caller: has a parent that is not stored, still an entry (server span)
      span(c, '4'.repeat(16), { parentSpanId: 'f'.repeat(16), duration: 5, start: T0 + 9000 }),
    ]);
    // the same span again (an exporter retry) changes nothing
    await store.writeSpans([span(a, '1'.repeat(16), { duration: 999 })]);
    const all = await store.listTraces({ from: T0 - 1, to: T0 + 60_000 });
    assert.deepEqual(all.map((t) => t.traceId), [b, a, c]);
    assert.equal(all[1].duration, 40);
    assert.equal(all[1].spans, 2);
    assert.equal(all[0].error, true);
    assert.equal(all[0].route, '/orders');
    assert.deepEqual((await store.listTraces({ errorsOnly: true })).map((t) => t.traceId), [b]);
    assert.deepEqual((await store.listTraces({ route: '/products/:id' })).map((t) => t.traceId), [a, c]);
    assert.deepEqual((await store.listTraces({ minDurationMs: 40, to: T0 + 1000 })).map((t) => t.traceId), [a]);
    assert.equal((await store.listTraces({ limit: 1 })).length, 1);
    const trace = await store.getTrace(a);
    assert.equal(trace.length, 2);
    assert.equal(trace[1].parentSpanId, '1'.repeat(16));
    assert.equal(trace[1].attributes['db.response.returned_rows'], 1);
    assert.equal(trace[1].attributes['db.query.text'], 'SELECT * FROM products WHERE id = $1');
    assert.equal((await store.getTrace(b))[0].statusMessage, '500');
    assert.deepEqual(await store.getTrace('d'.repeat(32)), []);
    const r = await store.applyRetention(T0 + 2 * HOUR, { minuteMs: HOUR, hourMs: 30 * 24 * HOUR });
    assert.equal(r.spans, 4);
    assert.deepEqual(await store.listTraces({}), []);
  });

  withStore('load-test runs: saved whole, listed newest first without samples, filtered', async (store) => {
    const run = (id: string, startedAt: number, o: Partial<import('../../src/store/store.js').LoadTestRun> = {}) => ({
      id, scenario: 'browse', profile: 'load', target: 'http://127.0.0.1:3000', startedAt, finishedAt: startedAt + 30_000, passed: true, gitRevision: 'abc123',
      environment: { node: 'v20', cpus: 2 }, result: { rps: 100.5, latency: { p95: 12.25 } }, samples: [1.5, 2.25, 1000.125], ...o,
    });
    await store.saveRun(run('r1', T0));
    await store.saveRun(run('r2', T0 + 60_000, { passed: false, gitRevision: undefined }));
    await store.saveRun(run('r3', T0 + 120_000, { profile: 'stress' }));
    const got = await store.getRun('r1');
    assert.deepEqual(got, run('r1', T0));
    assert.equal(await store.getRun('nope'), undefined);
    const list = await store.listRuns({ scenario: 'browse', profile: 'load' });
    assert.deepEqual(list.map((r) => r.id), ['r2', 'r1']);
    assert.deepEqual(list[0].samples, []);
    assert.equal(list[0].passed, false);
    assert.equal(list[0].gitRevision, undefined);
    assert.deepEqual((await store.listRuns({ before: T0 + 60_000 })).map((r) => r.id), ['r1']);
    assert.deepEqual((await store.listRuns({ limit: 1 })).map((r) => r.id), ['r3']);
  });

  withStore('alerts: instances upserted and deleted with their events in one call; events newest first', async (store) => {
    await store.saveAlerts([{ key: 'k1', state: { phase: 'pending', value: 1 } }, { key: 'k2', state: { phase: 'firing', value: 2.5 } }], [], [{ at: T0, kind: 'firing', key: 'k2', body: { alert: 'A' } }]);
    await store.saveAlerts([{ key: 'k1', state: { phase: 'firing', value: 3 } }], ['k2'], [{ at: T0 + 1, kind: 'resolved', key: 'k2', body: { alert: 'A' } }, { at: T0 + 1, kind: 'firing', key: 'k1', body: { alert: 'B' } }]);
    assert.deepEqual(await store.loadAlerts(), [{ key: 'k1', state: { phase: 'firing', value: 3 } }]);
    const events = await store.alertEvents({});
    assert.deepEqual(events.map((e) => [e.kind, e.key]), [['firing', 'k1'], ['resolved', 'k2'], ['firing', 'k2']]);
    assert.deepEqual(events[2].body, { alert: 'A' });
    assert.equal((await store.alertEvents({ since: T0 + 1 })).length, 2);
    assert.equal((await store.alertEvents({ limit: 1 })).length, 1);
    assert.equal(await store.exclusive('x', async () => 42), 42);
  });

  withStore('documents: put replaces, list by kind in id order, delete says whether it existed', async (store) => {
    await store.putDoc('silence', 'b', { v: 1 });
    await store.putDoc('silence', 'a', { v: 2, nested: { x: [1, 2] } });
    await store.putDoc('rule', 'a', { v: 3 });
    await store.putDoc('silence', 'b', { v: 4 });
    assert.deepEqual(await store.listDocs('silence'), [{ id: 'a', body: { v: 2, nested: { x: [1, 2] } } }, { id: 'b', body: { v: 4 } }]);
    assert.equal(await store.deleteDoc('silence', 'a'), true);
    assert.equal(await store.deleteDoc('silence', 'a'), false);
    assert.deepEqual(await store.listDocs('rule'), [{ id: 'a', body: { v: 3 } }]);
  });

  withStore('data survives closing and reopening; migrate runs again safely', async (store, reopen) => {
    await store.write([histPoint('lat', { route: '/a' }, T0 + 1000, [0.25])]);
    await store.close();
    assert.ok(reopen);
    const again = await reopen();
    try {
      await again.migrate();
      const [s] = await again.listSeries(['lat']);
      const rows = await again.readRows([s.id], T0, T0 + MINUTE, 'minute');
      assert.equal(rows[0].count, 1);
      await again.write([histPoint('lat', { route: '/a' }, T0 + 2000, [0.5])]);
      assert.equal((await again.readRows([s.id], T0, T0 + MINUTE, 'minute'))[0].count, 2, 'series ids resolve after reopen');
    } finally {
      await again.close();
    }
  });
}
