import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OVERFLOW_ATTRIBUTE, SDK_SERIES_OVERFLOW } from '../../src/sdk/instruments.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { ExpHistogram } from '../../src/model/histogram.js';

function quiet(limit?: number) {
  const warnings: string[] = [];
  return { r: new Recorder({ cardinalityLimit: limit, service: 'svc', instance: 'i1', onWarning: (code) => warnings.push(code) }), warnings };
}

test('bound and unbound records with the same tags land in one series, in any tag order', () => {
  const { r } = quiet();
  const h = r.histogram('op.duration', { unit: 's' });
  h.bind({ a: '1', b: '2' }).record(1);
  h.record(2, { b: '2', a: '1' });
  h.record(3, { a: '1', b: '2' });
  const points = r.collect();
  assert.equal(points.length, 1);
  assert.equal(points[0].count, 3);
  assert.equal(points[0].sum, 6);
  assert.deepEqual(points[0].attributes, { a: '1', b: '2' });
  assert.equal(points[0].service, 'svc');
});

test('collect returns deltas and resets; idle series yield no point', () => {
  const { r } = quiet();
  const c = r.counter('requests');
  c.record(2, { route: '/a' });
  c.record(3, { route: '/a' });
  let points = r.collect(1000);
  assert.equal(points[0].sum, 5);
  assert.equal(points[0].count, 2);
  points = r.collect(2000);
  assert.equal(points.length, 0);
  c.record(1, { route: '/a' });
  points = r.collect(3000);
  assert.equal(points[0].sum, 1);
  assert.equal(points[0].startTime, 2000);
  assert.equal(points[0].time, 3000);
});

test("a histogram series reports what an ExpHistogram fed the same values reports: growing either way, past its widest range, and again after a collect", () => {
  const { r } = quiet();
  const handle = r.histogram('op.duration', { unit: 's' }).bind();
  // seeded, so a failure repeats
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const rounds: number[][] = [
    [0.05, 0.04, 0.2, 0, 0.001, 3, 0.0001, 0.05], // starts in the middle, grows down and up, a zero
    Array.from({ length: 5000 }, () => Math.exp(rand() * 8 - 4)), // spans ~3.5 decades
    [1e-9, 5, 1e9, 2e-9, 0, 7e5], // 18 decades: past MAX_BUCKETS at scale 6, so it downscales
    [1.5, 1.5, 2.5], // after the wide interval: back to the compact block
  ];
  for (const values of rounds) {
    const expected = new ExpHistogram();
    for (const v of values) {
      handle.record(v);
      expected.record(v);
    }
    const [p] = r.collect();
    assert.equal(p.count, values.length);
    assert.deepEqual([p.sum, p.min, p.max], [expected.sum, expected.min, expected.max]);
    assert.deepEqual(p.hist, expected.toData(), `buckets of ${values.length} values from ${Math.min(...values)} to ${Math.max(...values)}`);
  }
  assert.equal(r.collect().length, 0, 'nothing recorded, nothing reported');
});

test('gauge keeps last, min, max, sum and count', () => {
  const { r } = quiet();
  const g = r.gauge('queue.length');
  for (const v of [5, -2, 9, 4]) g.record(v);
  const [p] = r.collect();
  assert.deepEqual([p.last, p.min, p.max, p.sum, p.count], [4, -2, 9, 16, 4]);
});

test('cardinality cap sends new tag sets to one overflow series', () => {
  const { r } = quiet(10);
  const h = r.histogram('x');
  for (let i = 0; i < 1000; i++) h.record(1, { user: `u${i}` });
  const points = r.collect();
  assert.equal(points.length, 12, 'ten series, the overflow series, and the count of what it folded');
  const overflow = points.find((p) => p.attributes[OVERFLOW_ATTRIBUTE] === 'true');
  assert.ok(overflow);
  assert.equal(overflow.count, 990);
  assert.equal(r.overflowed, 990);
  // reported like the server's own series limit: per metric, as a delta counter
  const folded = points.find((p) => p.metric === SDK_SERIES_OVERFLOW);
  assert.deepEqual([folded?.kind, folded?.sum, folded?.attributes], ['counter', 990, { metric: 'x' }]);
  h.record(1, { user: 'u5' });
  assert.equal(r.collect().filter((p) => p.metric === SDK_SERIES_OVERFLOW).length, 0, 'an interval with nothing folded reports nothing');
});

test('bad values are dropped, counted, and warned about once; nothing throws', () => {
  const { r, warnings } = quiet();
  const h = r.histogram('lat');
  const c = r.counter('n');
  for (const v of [NaN, Infinity, -Infinity, -1, 'x' as unknown as number, undefined as unknown as number]) {
    h.record(v);
    c.record(v);
  }
  h.record(0.5);
  assert.equal(r.dropped.invalid_value, 12);
  assert.deepEqual(warnings, ['PERF_W_INVALID_VALUE']);
  const points = r.collect();
  const lat = points.find((p) => p.metric === 'lat');
  assert.equal(lat?.count, 1);
  const dropped = points.find((p) => p.metric === 'solemate.sdk.dropped' && p.attributes.reason === 'invalid_value');
  assert.equal(dropped?.sum, 12);
});

test('bad names, bad tags and kind conflicts are dropped and counted, never thrown', () => {
  const { r, warnings } = quiet();
  r.histogram('has space').record(1);
  r.histogram('').record(1);
  r.histogram('ok').record(1, { 'bad key!': 'v' });
  r.histogram('ok').record(1, { k: { nested: true } as unknown as string });
  r.histogram('ok').record(1, null as unknown as Record<string, string>);
  r.counter('ok').record(1);
  assert.equal(r.dropped.invalid_name, 2);
  assert.equal(r.dropped.invalid_tag, 2);
  assert.equal(r.dropped.kind_conflict, 1);
  assert.deepEqual(new Set(warnings), new Set(['PERF_W_INVALID_NAME', 'PERF_W_INVALID_TAG', 'PERF_W_KIND_CONFLICT']));
  const ok = r.collect().find((p) => p.metric === 'ok');
  assert.equal(ok?.count, 1, 'the record with null tags is kept as the untagged series');
});

test('number and boolean tag values become strings; a throwing warning handler is contained', () => {
  const r = new Recorder({ onWarning: () => {
    throw new Error('boom');
  } });
  r.counter('c').record(1, { status: 200 as unknown as string, ok: true as unknown as string });
  r.counter('c').record(NaN);
  const [p] = r.collect();
  assert.deepEqual(p.attributes, { status: '200', ok: 'true' });
});

test('idle unbound series are forgotten, bound ones are kept', () => {
  const r = new Recorder({ idleCollections: 2, cardinalityLimit: 2, onWarning: () => {} });
  const h = r.histogram('x');
  const bound = h.bind({ k: 'bound' });
  h.record(1, { k: 'a' });
  r.collect();
  r.collect();
  r.collect();
  h.record(1, { k: 'b' });
  bound.record(1);
  const points = r.collect();
  assert.deepEqual(points.map((p) => p.attributes.k).sort(), ['b', 'bound'], 'freed slot was reused without overflow');
  assert.equal(r.overflowed, 0);
});
