// Process-wide HTTP server instrumentation (diagnostics channels): Express routes, aborted
// requests, excluded servers, request context for tracing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { instrumentHttpServer } from '../../src/instrument/node-http.js';
import { METHODS, methodIndex, requestContentLength } from '../../src/instrument/http-server.js';
import { Recorder } from '../../src/sdk/recorder.js';
import type { TraceRecord } from '../../src/model/spans.js';
import { currentContext, Tracer, urlKey } from '../../src/sdk/tracing.js';
import type { MetricPoint } from '../../src/model/metrics.js';
import { exchange, pipelined } from '../helpers.js';

const recorder = new Recorder({ onWarning: () => {} });
const kept: TraceRecord[] = [];
const tracer = new Tracer({ recorder, onTrace: (t) => kept.push(t) });
const other = http.createServer((_q, r) => r.end('excluded'));
const undo = instrumentHttpServer(recorder, { tracer, exclude: [other] });
after(() => undo());

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const durations = (points: MetricPoint[]) => points.filter((p) => p.metric === 'http.server.request.duration');

test('Express routes by template, statuses, sizes, and the request context in handlers', async () => {
  const app = express();
  const router = express.Router();
  router.get('/:id', async (req, res) => {
    await new Promise((r) => setTimeout(r, 10));
    res.json({ id: req.params.id, traced: currentContext() !== undefined });
  });
  app.use('/products', router);
  app.post('/orders', express.json(), (req, res) => void res.status(201).json(req.body));
  const server = http.createServer(app);
  const url = await listen(server);
  recorder.collect();
  for (let i = 0; i < 3; i++) assert.deepEqual(await (await fetch(`${url}/products/${i}`)).json(), { id: String(i), traced: true });
  await (await fetch(`${url}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })).text();
  await (await fetch(`${url}/missing`)).text();
  server.close();
  const points = recorder.collect();
  const d = durations(points);
  const products = d.find((p) => p.attributes['http.route'] === '/products/:id')!;
  assert.equal(products.count, 3);
  assert.ok(products.min >= 0.009, `${products.min} s ≥ the handler's 10 ms`);
  assert.equal(d.find((p) => p.attributes['http.route'] === '/orders')?.attributes['http.response.status_code'], '201');
  const missing = d.find((p) => p.attributes['http.response.status_code'] === '404')!;
  assert.equal(missing.attributes['http.route'], undefined, 'no route, never the raw URL');
  assert.equal(points.find((p) => p.metric === 'http.server.request.body.size')?.sum, 7);
  const active = points.find((p) => p.metric === 'http.server.active_requests')!;
  assert.equal(active.last, 0, 'nothing left in flight');
  assert.equal(kept.filter((t) => t.spans[0].name === 'GET /products/:id').length, 3);
  assert.deepEqual(kept.filter((t) => t.spans[0].name === 'GET /products/:id').map((t) => t.spans[0].attributes['solemate.url.key']), [0, 1, 2].map((i) => urlKey('GET', `/products/${i}`)));
});

test('a client that goes away mid-request is counted as 499 when its connection closes', async () => {
  let release!: () => void;
  const server = http.createServer((_req, res) => {
    release = () => res.end('late');
  });
  const url = await listen(server);
  recorder.collect();
  const ac = new AbortController();
  const req = fetch(`${url}/slow`, { signal: ac.signal }).catch((e) => e);
  await new Promise((r) => setTimeout(r, 50));
  ac.abort();
  await req;
  await new Promise((r) => setTimeout(r, 50));
  release();
  server.close();
  const points = recorder.collect();
  assert.equal(durations(points).find((p) => p.attributes['http.response.status_code'] === '499')?.count, 1);
  assert.equal(points.find((p) => p.metric === 'http.server.active_requests')?.last, 0);
});

test('each request keeps its own method and sizes, also pipelined; response sizes are the Content-Length set', async () => {
  const expected: unknown[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.on('finish', () => expected.push(res.getHeader('content-length')));
      if (req.url === '/a') {
        // answers late, so that the two behind it start while it is in flight
        res.setHeader('Content-Length', 2);
        setTimeout(() => res.end('ok'), 40);
      } else if (req.url === '/b') {
        res.write('x'); // chunked: no Content-Length
        res.end('yz');
      } else {
        res.writeHead(200, { 'content-length': '4' });
        res.end('done');
      }
    });
  });
  const own = new Recorder({ onWarning: () => {} });
  const stop = instrumentHttpServer(own, { servers: [server] });
  const url = await listen(server);
  await exchange(url, 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloDELETE /c HTTP/1.1\r\nHost: x\r\n\r\n', 'done', 3);
  stop();
  server.close();
  const points = own.collect();
  const of = (metric: string) => Object.fromEntries(points.filter((p) => p.metric === metric).map((p) => [p.attributes['http.request.method'], p.sum]));
  assert.deepEqual(Object.keys(of('http.server.request.duration')).sort(), ['DELETE', 'POST', 'PUT']);
  assert.deepEqual(of('http.server.request.body.size'), { POST: 3, PUT: 5 }, 'each request its own Content-Length; none without one');
  assert.equal(expected.length, 3);
  const responses = of('http.server.response.body.size');
  assert.equal(responses.POST, 2);
  assert.equal(responses.PUT, undefined, 'a chunked response has no size');
  // writeHead's own headers: whatever Node's getHeader sees of them (it sees none)
  assert.equal(responses.DELETE, expected[2] === undefined ? undefined : Number(expected[2]));
});

test('a method outside the semantic conventions is _OTHER; the request size is found in the raw headers whatever their case', async () => {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(req.url === '/last' ? 'last' : 'ok'));
  });
  const own = new Recorder({ onWarning: () => {} });
  const stop = instrumentHttpServer(own, { servers: [server] });
  const url = await listen(server);
  await exchange(url, 'PURGE /a HTTP/1.1\r\nHost: x\r\nX-Content-Lengths: 99\r\nCONTENT-LENGTH: 4\r\n\r\nabcdPATCH /b HTTP/1.1\r\nHost: x\r\ncontent-length: 0\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\n\r\n', 'last', 3);
  stop();
  server.close();
  const points = own.collect();
  const of = (metric: string) => Object.fromEntries(points.filter((p) => p.metric === metric).map((p) => [p.attributes['http.request.method'], p.sum]));
  assert.deepEqual(Object.keys(of('http.server.request.duration')).sort(), ['GET', 'PATCH', '_OTHER']);
  assert.deepEqual(of('http.server.request.body.size'), { _OTHER: 4 }, 'the Content-Length in capitals; an empty body and none are not recorded');
});

test('methodIndex and METHODS agree: each kept method is its own index, anything else _OTHER', () => {
  METHODS.forEach((m, i) => assert.equal(methodIndex(m), m === '_OTHER' ? 0 : i, m));
  for (const other of ['get', 'PURGE', '', undefined]) assert.equal(methodIndex(other), 0);
});

test('a stand-in request without raw headers has no size, and does not throw', () => {
  assert.equal(requestContentLength({} as http.IncomingMessage), -1);
  assert.equal(requestContentLength({ rawHeaders: ['Host', 'x', 'Content-Length', '12'] } as http.IncomingMessage), 12);
  assert.equal(requestContentLength({ rawHeaders: ['content-length', 'twelve'] } as unknown as http.IncomingMessage), -1);
});

test('servers: only the listed servers are measured', async () => {
  const mine = http.createServer((_q, r) => r.end('mine'));
  const theirs = http.createServer((_q, r) => r.end('theirs'));
  const rec = new Recorder({ onWarning: () => {} });
  const stop = instrumentHttpServer(rec, { servers: [mine] });
  const [a, b] = [await listen(mine), await listen(theirs)];
  await (await fetch(a)).text();
  await (await fetch(b)).text();
  await (await fetch(b)).text();
  stop();
  mine.close();
  theirs.close();
  assert.equal(durations(rec.collect()).reduce((n, p) => n + p.count, 0), 1);
});

test('excluded servers are not measured; undo stops measuring', async () => {
  const url = await listen(other);
  recorder.collect();
  await (await fetch(url)).text();
  other.close();
  assert.equal(durations(recorder.collect()).length, 0);
  const plain = http.createServer((_q, r) => r.end('x'));
  const u2 = await listen(plain);
  undo();
  await (await fetch(u2)).text();
  plain.close();
  assert.equal(durations(recorder.collect()).length, 0);
});

test('pipelined requests on one connection are each counted once', async () => {
  let n = 0;
  const server = http.createServer((req, res) => {
    const i = n++;
    // the first answers after 60 ms, the others at once
    setTimeout(() => res.end(`#${i}`), req.url === '/slow' ? 60 : 0);
  });
  const own = new Recorder({ onWarning: () => {} });
  const stop = instrumentHttpServer(own, { servers: [server] });
  const url = await listen(server);
  const text = await pipelined(url, ['/slow', '/fast', '/fast'], '#2');
  stop();
  assert.match(text, /#0[\s\S]*#1[\s\S]*#2/);
  server.close();
  const points = durations(own.collect());
  assert.equal(points.reduce((s, p) => s + p.count, 0), 3, 'three requests, each counted once');
  const all = points[0];
  assert.ok(all.max >= 0.055, `the slow request took ≥ 60 ms, got max ${all.max}`);
});
