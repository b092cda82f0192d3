import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { OtlpHttpExporter } from '../../src/exporters/otlp.js';
import { decodeMetricsRequest } from '../../src/otlp/proto.js';
import type { MetricPoint } from '../../src/model/metrics.js';
import { Json } from '../helpers.js';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: Json;
}

/** A real HTTP receiver that answers each request with the next status from `statuses` (then 200). */
async function receiver(statuses: number[], extraHeaders: Record<string, string> = {}) {
  const received: Received[] = [];
  let calls = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      calls++;
      const status = statuses.shift() ?? 200;
      if (status === 200) {
        const raw = zlib.gunzipSync(Buffer.concat(chunks));
        const body = req.headers['content-type'] === 'application/json' ? JSON.parse(raw.toString()) : decodeMetricsRequest(raw);
        received.push({ headers: req.headers, body });
      }
      res.writeHead(status, { 'content-type': 'application/json', ...extraHeaders }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, calls: () => calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const point = (i: number): MetricPoint => ({ metric: 'c', kind: 'counter', unit: '1', service: 's', instance: 'i', attributes: { i: String(i) }, startTime: 0, time: 1000, count: 1, sum: i, min: 0, max: 0, last: 0 });

test('sends gzip protobuf with headers; retries 503 and network errors with backoff, then succeeds', async () => {
  const rx = await receiver([503, 502]);
  const exp = new OtlpHttpExporter({ endpoint: rx.url, headers: { authorization: 'Bearer x' }, baseBackoffMs: 5, maxBackoffMs: 20 });
  exp.enqueue([point(1), point(2)]);
  await exp.flush(5000);
  assert.equal(rx.calls(), 3);
  assert.equal(rx.received.length, 1);
  assert.equal(rx.received[0].headers.authorization, 'Bearer x');
  assert.equal(rx.received[0].headers['content-encoding'], 'gzip');
  assert.equal(rx.received[0].body.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints.length, 2);
  assert.equal(exp.stats.sentPoints, 2);
  assert.equal(exp.stats.failedAttempts, 2);
  await rx.close();
});

test('a 400 is not retried: the batch is dropped and counted', async () => {
  const rx = await receiver([400]);
  const drops: string[] = [];
  const exp = new OtlpHttpExporter({ endpoint: rx.url, protocol: 'http/json', baseBackoffMs: 5, onDrop: (_n, why) => drops.push(why) });
  exp.enqueue([point(1)]);
  await exp.flush(5000);
  assert.equal(rx.calls(), 1);
  assert.deepEqual(drops, ['rejected']);
  assert.equal(exp.stats.droppedPoints, 1);
  await rx.close();
});

test('Retry-After is honoured on 429', async () => {
  const rx = await receiver([429], { 'retry-after': '1' });
  const exp = new OtlpHttpExporter({ endpoint: rx.url, baseBackoffMs: 1, maxBackoffMs: 2 });
  const t0 = Date.now();
  exp.enqueue([point(1)]);
  await exp.flush(5000);
  assert.ok(Date.now() - t0 >= 950, `waited ${Date.now() - t0} ms`);
  assert.equal(rx.received.length, 1);
  await rx.close();
});

test('server down: buffer stays bounded, oldest points dropped and counted, nothing thrown', async () => {
  const rx = await receiver([]);
  await rx.close(); // nothing listens on this port now
  const drops: [number, string][] = [];
  const exp = new OtlpHttpExporter({ endpoint: rx.url, maxBufferedPoints: 100, maxBatchPoints: 50, baseBackoffMs: 50, maxBackoffMs: 50, maxAttempts: 1000, onDrop: (n, why) => drops.push([n, why]) });
  for (let i = 0; i < 10; i++) exp.enqueue(Array.from({ length: 50 }, (_, k) => point(i * 50 + k)));
  assert.ok(exp.stats.bufferedPoints <= 100, `buffered ${exp.stats.bufferedPoints}`);
  assert.equal(drops.filter(([, w]) => w === 'buffer_full').reduce((a, [n]) => a + n, 0), 400);
  await exp.shutdown(200);
  assert.ok(exp.stats.failedAttempts >= 1);
  assert.match(exp.stats.lastError ?? '', /fetch failed|ECONNREFUSED/);
});

test('endpoint URL gets /v1/metrics once', () => {
  assert.equal(new OtlpHttpExporter({ endpoint: 'http://h:4318/' }).url, 'http://h:4318/v1/metrics');
  assert.equal(new OtlpHttpExporter({ endpoint: 'http://h:4318/v1/metrics' }).url, 'http://h:4318/v1/metrics');
});
