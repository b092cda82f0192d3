// Outgoing HTTP: the callee sees a traceparent naming our client span; calls are timed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { instrumentHttpClient } from '../../src/instrument/http-client.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { parseTraceparent, Tracer } from '../../src/sdk/tracing.js';

const recorder = new Recorder({ onWarning: () => {} });
const tracer = new Tracer({ recorder });
const received: (string | undefined)[] = [];
const target = http.createServer((req, res) => {
  received.push(req.headers.traceparent as string | undefined);
  res.statusCode = req.url === '/fail' ? 503 : 200;
  res.end('ok');
});
let base = '';
let undo = () => {};
before(async () => {
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  undo = instrumentHttpClient(recorder, { tracer });
});
after(() => {
  undo();
  target.close();
});

const get = (url: string, options: http.RequestOptions = {}) =>
  new Promise<number>((resolve, reject) => {
    http
      .get(url, options, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      })
      .on('error', reject);
  });

test('http.get and fetch inside a request carry traceparent with the client span as parent', async () => {
  received.length = 0;
  const ctx = tracer.startRequest('HTTP');
  await tracer.run(ctx, async () => {
    assert.equal(await get(`${base}/a`, { headers: { 'x-own': '1' } }), 200);
    assert.equal((await fetch(`${base}/b`)).status, 200);
    const req = http.request({ host: '127.0.0.1', port: Number(new URL(base).port), path: '/c', method: 'POST' }, (res) => res.resume());
    await new Promise<void>((r) => req.end('x', () => r()));
    await new Promise((r) => setTimeout(r, 50));
  });
  const clients = ctx.spans.filter((s) => s.kind === 'client');
  assert.equal(clients.length, 3);
  assert.equal(received.length, 3);
  for (let i = 0; i < 3; i++) {
    const tp = parseTraceparent(received[i]);
    assert.equal(tp?.traceId, ctx.root.traceId);
    assert.ok(clients.some((c) => c.spanId === tp?.parentSpanId), 'parent is one of our client spans');
  }
  assert.deepEqual(clients.map((c) => c.attributes['http.request.method']).sort(), ['GET', 'GET', 'POST']);
  assert.equal(ctx.httpCalls, 3);
});

test('outside a request nothing is added; every call is timed with status or error type', async () => {
  received.length = 0;
  recorder.collect();
  await get(`${base}/plain`);
  assert.equal(received[0], undefined);
  assert.equal(await get(`${base}/fail`), 503);
  // a port nobody listens on (port 1 would be refused by fetch itself as a "bad port")
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const err = await get(`http://127.0.0.1:${port}/`).catch((e) => e);
  assert.equal(err.code, 'ECONNREFUSED', 'the app gets its own error');
  const fetchErr = await fetch(`http://127.0.0.1:${port}/`).catch((e) => e);
  assert.ok(fetchErr instanceof TypeError);
  await new Promise((r) => setTimeout(r, 20));
  const points = recorder.collect().filter((p) => p.metric === 'http.client.request.duration');
  const find = (f: (a: Record<string, string>) => boolean) => points.find((p) => f(p.attributes));
  assert.equal(find((a) => a['http.response.status_code'] === '200')?.count, 1);
  assert.equal(find((a) => a['http.response.status_code'] === '503')?.attributes['error.type'], '503');
  const refused = points.filter((p) => p.attributes['server.port'] === String(port));
  assert.equal(refused.reduce((n, p) => n + p.count, 0), 2, 'http.get and fetch');
  assert.ok(refused.every((p) => p.attributes['error.type']));
});

test('the caller’s own traceparent header wins', async () => {
  received.length = 0;
  const mine = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
  await tracer.run(tracer.startRequest('HTTP'), () => get(`${base}/own`, { headers: { TraceParent: mine } }));
  assert.equal(received[0], mine);
});
