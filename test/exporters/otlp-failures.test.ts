// The exporter against receivers that misbehave: statuses, Retry-After, hanging, partial success,
// and the exporter's own limits (buffer cap, one request in flight, encoding in slices).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { METRICS, OtlpHttpExporter, type ExportDropReason, type OtlpSignal } from '../../src/exporters/otlp.js';
import { decodeMetricsRequest, encodeMetricsResponse } from '../../src/otlp/proto.js';
import type { MetricPoint } from '../../src/model/metrics.js';
import { Json } from '../helpers.js';

type Answer = number | 'hang' | ((req: http.IncomingMessage, res: http.ServerResponse) => void);

/** A real receiver on a free port: each request gets the next answer (then 200 {}). */
async function receiver(answers: Answer[] = []) {
  const arrivals: { at: number; body: Buffer }[] = [];
  const answeredAt: number[] = [];
  let open = 0;
  let maxOpen = 0;
  let closedSockets = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      arrivals.push({ at: Date.now(), body: zlib.gunzipSync(Buffer.concat(chunks)) });
      const a = answers.shift() ?? 200;
      if (a === 'hang') return;
      if (typeof a === 'function') return a(req, res);
      res.writeHead(a, { 'content-type': 'application/json' }).end('{}', () => answeredAt.push(Date.now()));
    });
  });
  server.on('connection', (s) => {
    maxOpen = Math.max(maxOpen, ++open);
    s.on('close', () => (open--, closedSockets++));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    arrivals,
    answeredAt,
    stats: () => ({ open, maxOpen, closedSockets }),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const point = (i: number): MetricPoint => ({ metric: 'c', kind: 'counter', unit: '1', service: 's', instance: 'i', attributes: { i: String(i) }, startTime: 0, time: 1000, count: 1, sum: i, min: 0, max: 0, last: 0 });
const points = (from: number, n: number) => Array.from({ length: n }, (_, k) => point(from + k));
const dataPoints = (body: Buffer): Json[] => (decodeMetricsRequest(body) as Json).resourceMetrics.flatMap((r: Json) => r.scopeMetrics.flatMap((s: Json) => s.metrics.flatMap((m: Json) => m.sum.dataPoints)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const status of [400, 401, 404, 413, 500]) {
  test(`${status} is not retried (OTLP/HTTP): one attempt, the batch dropped as rejected`, async (t) => {
    const rx = await receiver([status]);
    t.after(() => rx.close());
    const drops: [number, ExportDropReason][] = [];
    const exp = new OtlpHttpExporter({ endpoint: rx.url, baseBackoffMs: 1, maxBackoffMs: 1, onDrop: (n, why) => drops.push([n, why]) });
    exp.enqueue(points(0, 3));
    await exp.flush(5000);
    await sleep(50);
    assert.equal(rx.arrivals.length, 1);
    assert.deepEqual(drops, [[3, 'rejected']]);
    assert.equal(exp.stats.bufferedPoints, 0);
    assert.match(exp.stats.lastError ?? '', new RegExp(`HTTP ${status}`));
  });
}

test('429, 502, 503 and 504 are retried until accepted', async (t) => {
  const rx = await receiver([429, 502, 503, 504]);
  t.after(() => rx.close());
  const exp = new OtlpHttpExporter({ endpoint: rx.url, baseBackoffMs: 1, maxBackoffMs: 5 });
  exp.enqueue(points(0, 2));
  await exp.flush(5000);
  assert.equal(rx.arrivals.length, 5);
  assert.equal(exp.stats.sentPoints, 2);
  assert.equal(exp.stats.droppedPoints, 0);
});

test('Retry-After as an HTTP-date is honoured, and flush() does not cut it short', async (t) => {
  let until = 0;
  const rx = await receiver([
    (_q, res) => {
      // HTTP-dates have whole seconds: at least 1 s from now
      until = Math.ceil((Date.now() + 1000) / 1000) * 1000;
      res.writeHead(503, { 'retry-after': new Date(until).toUTCString() }).end();
    },
  ]);
  t.after(() => rx.close());
  const exp = new OtlpHttpExporter({ endpoint: rx.url, baseBackoffMs: 1, maxBackoffMs: 1 });
  exp.enqueue(points(0, 1));
  await sleep(100);
  await exp.flush(100); // a flush during the wait must not send early
  await exp.flush(5000);
  assert.equal(rx.arrivals.length, 2);
  assert.ok(rx.arrivals[1].at >= until - 5, `retried ${until - rx.arrivals[1].at} ms before the Retry-After date`);
});

test('a Retry-After beyond maxRetryAfterMs is cut to it', async (t) => {
  const rx = await receiver([(_q, res) => res.writeHead(429, { 'retry-after': '3600' }).end()]);
  t.after(() => rx.close());
  const exp = new OtlpHttpExporter({ endpoint: rx.url, baseBackoffMs: 1, maxBackoffMs: 1, maxRetryAfterMs: 300 });
  exp.enqueue(points(0, 1));
  await exp.flush(5000);
  assert.equal(rx.arrivals.length, 2, 'retried within the flush, not in an hour');
  assert.ok(rx.arrivals[1].at - rx.arrivals[0].at >= 290);
  assert.equal(exp.stats.sentPoints, 1);
});

test('a hanging receiver: every request times out, one socket at a time; shutdown aborts it and counts the rest', async (t) => {
  const rx = await receiver(Array(50).fill('hang'));
  t.after(() => rx.close());
  const drops: [number, ExportDropReason][] = [];
  const exp = new OtlpHttpExporter({ endpoint: rx.url, timeoutMs: 200, baseBackoffMs: 40, maxBackoffMs: 40, maxAttempts: 1000, onDrop: (n, why) => drops.push([n, why]) });
  const stop = setInterval(() => {
    exp.enqueue(points(0, 10));
    assert.ok(exp.stats.inFlight <= 1);
  }, 50);
  await sleep(1200);
  clearInterval(stop);
  assert.ok(rx.arrivals.length >= 3, `${rx.arrivals.length} attempts: each one ended by the timeout`);
  assert.ok(rx.arrivals.length <= 8, `${rx.arrivals.length} attempts in 1.2 s with a 200 ms timeout`);
  // the receiver may see the next connection a moment before the aborted one's close: ≤ 2, where a
  // pile-up would show one per attempt
  assert.ok(rx.stats().maxOpen <= 2, `${rx.stats().maxOpen} sockets open at once over ${rx.arrivals.length} attempts`);
  assert.match(exp.stats.lastError ?? '', /TimeoutError/);
  const t0 = Date.now();
  await exp.shutdown(100);
  assert.ok(Date.now() - t0 < 1000, 'shutdown waits its own deadline, not the hanging server');
  await sleep(50);
  assert.equal(rx.stats().open, 0, 'the request in flight was aborted');
  const arrived = rx.arrivals.length;
  const buffered = drops.filter(([, w]) => w === 'shutdown').reduce((a, [n]) => a + n, 0);
  assert.ok(buffered > 0, 'what was left is counted as dropped at shutdown');
  assert.equal(exp.stats.bufferedPoints, 0);
  exp.enqueue(points(0, 5));
  await sleep(300);
  assert.equal(rx.arrivals.length, arrived, 'nothing is sent after shutdown');
});

test('the buffer is capped in items, in flight included; the oldest queued go first', async (t) => {
  const rx = await receiver(['hang']);
  t.after(() => rx.close());
  const dropped: number[] = [];
  const exp = new OtlpHttpExporter({ endpoint: rx.url, maxBufferedPoints: 25, maxBatchPoints: 1000, timeoutMs: 60_000, onDrop: (_n, why, items) => why === 'buffer_full' && dropped.push(...items.map((p) => p.sum)) });
  exp.enqueue(points(0, 10)); // in flight (maxBatchPoints is clamped to the cap)
  await sleep(50);
  for (let i = 1; i < 10; i++) {
    exp.enqueue(points(i * 10, 10));
    assert.ok(exp.stats.bufferedPoints <= 25, `buffered ${exp.stats.bufferedPoints}`);
  }
  assert.equal(exp.stats.bufferedPoints, 25);
  assert.deepEqual(dropped, Array.from({ length: 75 }, (_, k) => 10 + k), 'the oldest queued points, in order');
  await exp.shutdown(10);
});

test('a backlog leaves in full batches: many small snapshots become few requests', async (t) => {
  let release!: () => void;
  const rx = await receiver([(_q, res) => (release = () => res.writeHead(200).end('{}'))]);
  t.after(() => rx.close());
  const exp = new OtlpHttpExporter({ endpoint: rx.url, maxBatchPoints: 300 });
  exp.enqueue(points(0, 1));
  await sleep(50);
  for (let i = 0; i < 100; i++) exp.enqueue(points(1 + i * 5, 5));
  release();
  await exp.flush(5000);
  assert.equal(rx.arrivals.length, 1 + 2, '500 queued points in batches of ≤ 300');
  assert.deepEqual(rx.arrivals.slice(1).map((a) => dataPoints(a.body).length), [300, 200]);
  assert.equal(exp.stats.sentPoints, 501);
});

test('while queued, the points of one series and minute merge: an outage buffers the series, not the snapshots, and the sums arrive whole', async (t) => {
  let release!: () => void;
  const rx = await receiver([(_q, res) => (release = () => res.writeHead(200).end('{}'))]);
  t.after(() => rx.close());
  const exp = new OtlpHttpExporter({ endpoint: rx.url, maxBufferedPoints: 100 });
  exp.enqueue(points(0, 1)); // in flight, held
  await sleep(50);
  // 60 one-second snapshots of the same 20 series in one minute, then 20 more in the next minute
  const at = (time: number, i: number): MetricPoint => ({ ...point(i), startTime: time - 1000, time, count: 2, sum: i + 1, min: i, max: i + time / 1000, last: time });
  for (let s = 1; s <= 60; s++) exp.enqueue(Array.from({ length: 20 }, (_, i) => at(60_000 * 10 + s * 1000 - 1, i)));
  exp.enqueue(Array.from({ length: 20 }, (_, i) => at(60_000 * 11 + 500, i)));
  assert.equal(exp.stats.bufferedPoints, 1 + 20 + 20, 'one in flight, one point per series and minute');
  assert.equal(exp.stats.mergedPoints, 59 * 20);
  assert.equal(exp.stats.droppedPoints, 0, 'a buffer of 100 held 1,221 points');
  release();
  await exp.flush(5000);
  const got = rx.arrivals.slice(1).flatMap((a) => dataPoints(a.body));
  assert.equal(got.length, 40);
  const first = got.filter((p) => Number(p.timeUnixNano) / 1e6 < 60_000 * 11);
  assert.equal(first.length, 20);
  for (const p of first) {
    const i = Number(p.attributes.find((a: Json) => a.key === 'i').value.stringValue);
    assert.equal(p.asDouble, 60 * (i + 1), 'the merged delta is the sum of the 60');
    assert.equal(Number(p.startTimeUnixNano) / 1e6, 599_999, 'it starts where the first started');
    assert.equal(Number(p.timeUnixNano) / 1e6, 659_999, 'and ends where the last ended');
  }
});

test('a partial success counts the receiver’s rejected points (protobuf and JSON answers)', async (t) => {
  const rx = await receiver([
    (_q, res) => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(encodeMetricsResponse({ partialSuccess: { rejectedDataPoints: '2', errorMessage: 'bad' } }))),
    (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ partialSuccess: { rejectedDataPoints: '1' } })),
  ]);
  t.after(() => rx.close());
  const drops: [number, ExportDropReason][] = [];
  const exp = new OtlpHttpExporter({ endpoint: rx.url, onDrop: (n, why) => drops.push([n, why]) });
  exp.enqueue(points(0, 5));
  await exp.flush(5000);
  exp.enqueue(points(5, 5));
  await exp.flush(5000);
  assert.deepEqual(drops, [[2, 'rejected'], [1, 'rejected']]);
  assert.equal(exp.stats.sentPoints, 7);
});

test('a batch the encoder chokes on is dropped and counted, never thrown or left unhandled', async (t) => {
  const rx = await receiver();
  t.after(() => rx.close());
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.after(() => process.off('unhandledRejection', onUnhandled));
  const broken: OtlpSignal<MetricPoint> = {
    ...METRICS,
    build: () => {
      throw new Error('bug in build');
    },
  };
  const drops: ExportDropReason[] = [];
  const exp = new OtlpHttpExporter({ endpoint: rx.url, onDrop: (_n, why) => drops.push(why) }, broken);
  exp.enqueue(points(0, 3));
  await exp.flush(1000);
  await sleep(20);
  assert.deepEqual(drops, ['rejected']);
  assert.match(exp.stats.lastError ?? '', /bug in build/);
  assert.equal(rx.arrivals.length, 0);
  assert.deepEqual(unhandled, []);
});

test('a large batch is encoded in slices, letting the event loop run between them', async (t) => {
  const rx = await receiver();
  t.after(() => rx.close());
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  t.after(() => clearInterval(ticker));
  const calls: { size: number; turns: number }[] = [];
  const slow: OtlpSignal<MetricPoint> = {
    ...METRICS,
    build: (batch) => {
      calls.push({ size: batch.length, turns });
      const until = performance.now() + 5; // a slice of expensive points
      while (performance.now() < until);
      return METRICS.build(batch);
    },
  };
  const exp = new OtlpHttpExporter({ endpoint: rx.url }, slow);
  exp.enqueue(points(0, 320));
  await exp.flush(5000);
  assert.ok(calls.length >= 10 && calls.every((c) => c.size <= 32), `slices: ${calls.map((c) => c.size)}`);
  assert.ok(calls.at(-1)!.turns - calls[0].turns >= 5, 'timers ran while the batch was being encoded');
  assert.equal(dataPoints(rx.arrivals[0].body).length, 320, 'the concatenated slices are one valid request');
});

test('JSON slices join into one valid request', async (t) => {
  const rx = await receiver();
  t.after(() => rx.close());
  const exp = new OtlpHttpExporter({ endpoint: rx.url, protocol: 'http/json' });
  exp.enqueue(points(0, 100));
  await exp.flush(5000);
  const body = JSON.parse(rx.arrivals[0].body.toString()) as Json;
  const sums = body.resourceMetrics.flatMap((r: Json) => r.scopeMetrics.flatMap((s: Json) => s.metrics.flatMap((m: Json) => m.sum.dataPoints.map((d: Json) => d.asDouble))));
  assert.deepEqual(sums, Array.from({ length: 100 }, (_, i) => i));
});
