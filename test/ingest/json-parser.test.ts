// The OTLP/JSON parser: a large body is parsed in a worker thread while the event loop keeps turning,
// into the same slices as in place, with the same answers to a bad body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { PerfError } from '../../src/errors.js';
import { JsonParser, WORKER_BYTES } from '../../src/ingest/json-parser.js';

const attr = (k: string, v: string) => ({ key: k, value: { stringValue: v } });
function metrics(n: number) {
  const dataPoints = Array.from({ length: n }, (_, i) => ({ timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i)), asDouble: i / 7, attributes: [attr('user.id', `u${i}`)] }));
  return { resourceMetrics: [{ resource: { attributes: [attr('service.name', 'shop')] }, scopeMetrics: [{ scope: { name: 's' }, metrics: [{ name: 'm', unit: '1', gauge: { dataPoints } }, { name: 'n', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: dataPoints.slice(0, 3) } }] }] }] };
}

test('a body from WORKER_BYTES is parsed in the worker into the same slices as in place, the loop turning meanwhile', async (t) => {
  const inWorker = new JsonParser({ depth: 64, slice: 500 });
  const inPlace = new JsonParser({ depth: 64, slice: 500, workerBytes: Infinity });
  t.after(() => inWorker.close());
  const body = Buffer.from(JSON.stringify(metrics(20_000)));
  assert.ok(body.length > WORKER_BYTES);
  const expected = inPlace.parse(Buffer.from(body), 'metrics', 100_000);
  let turns = 0;
  let parsing = true;
  const parsed = inWorker.parse(body, 'metrics', 100_000).finally(() => (parsing = false));
  while (parsing) {
    await turn();
    turns++;
  }
  const got = await parsed;
  const want = await expected;
  assert.ok(turns > 1, `the event loop turned ${turns} times while the worker parsed`);
  assert.equal(got.count, 20_003);
  assert.equal(got.count, want.count);
  const slices = [...got.slices];
  assert.equal(slices.length, 41);
  assert.deepEqual(slices, [...want.slices]);
});

test('past the limit the worker sends the count without slices', async (t) => {
  const p = new JsonParser({ depth: 64, slice: 500, workerBytes: 0 });
  t.after(() => p.close());
  const got = await p.parse(Buffer.from(JSON.stringify(metrics(1000))), 'metrics', 999);
  assert.equal(got.count, 1003);
  assert.deepEqual([...got.slices], []);
});

test('in the worker, malformed JSON throws as JSON.parse does and deep nesting as the depth check does', async (t) => {
  const p = new JsonParser({ depth: 64, slice: 500, workerBytes: 0 });
  t.after(() => p.close());
  await assert.rejects(p.parse(Buffer.from('{"resourceSpans": [{'), 'traces', 10), (e: Error) => !(e instanceof PerfError) && /JSON/.test(e.message));
  await assert.rejects(p.parse(Buffer.from('['.repeat(1000) + ']'.repeat(1000)), 'traces', 10), (e: Error) => e instanceof PerfError && e.code === 'PERF_ERR_BAD_REQUEST' && /nests deeper than 64 levels/.test(e.message));
  // and the worker still answers
  assert.equal((await p.parse(Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'a' }, { name: 'b' }] }] }] })), 'traces', 10)).count, 2);
});

test('a worker that dies fails what it held with a retryable error, and the next body starts a new one', async (t) => {
  const p = new JsonParser({ depth: 64, slice: 500, workerBytes: 0 });
  t.after(() => p.close());
  const body = Buffer.from(JSON.stringify(metrics(20_000)));
  const held = p.parse(body, 'metrics', 100_000);
  await p.close();
  await assert.rejects(held, (e: Error) => e instanceof PerfError && e.code === 'PERF_ERR_STORE' && e.retryAfter === 1);
  assert.equal((await p.parse(Buffer.from(JSON.stringify(metrics(10))), 'metrics', 100)).count, 13);
});

test('the worker ends once idle, so its heap goes back; the next body starts it again', async (t) => {
  const p = new JsonParser({ depth: 64, slice: 500, workerBytes: 0, idleMs: 100 });
  t.after(() => p.close());
  assert.equal((await p.parse(Buffer.from(JSON.stringify(metrics(5))), 'metrics', 100)).count, 8);
  assert.equal(p.running, true);
  const deadline = Date.now() + 5000;
  while (p.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(p.running, false, 'ended after 100 ms idle');
  assert.equal((await p.parse(Buffer.from(JSON.stringify(metrics(5))), 'metrics', 100)).count, 8);
  assert.equal(p.running, true);
});
