// Issue 25, item 7: the SDK is never the app's problem. An instrumented Express or Fastify app talks to a
// performance server that refuses connections, hangs, answers 500, or answers 429 + Retry-After,
// and then comes back. Each test asserts what would break if the SDK misbehaved — the app's
// requests complete while an export is stuck, sockets and buffered points stay bounded, no attempt
// comes before Retry-After, heap stays flat — and that what was dropped is counted by reason and
// reaches the server as solemate.sdk.dropped once it answers. No tight timings: latency and memory
// claims within noise belong to bench/.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import zlib from 'node:zlib';
import express from 'express';
import Fastify from 'fastify';
import { createPerformanceService, type PerformanceService } from '../../src/sdk/performance-service.js';
import { expressMetrics } from '../../src/instrument/express.js';
import { fastifyMetrics } from '../../src/instrument/fastify.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { decodeMetricsRequest } from '../../src/otlp/proto.js';
import { createServer } from '../../src/server/app.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { testConfig, type Json } from '../helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Fails the test if anything the SDK did ended up as an unhandled rejection. */
function noUnhandled(t: TestContext): void {
  const seen: unknown[] = [];
  const on = (e: unknown) => seen.push(e);
  process.on('unhandledRejection', on);
  t.after(() => {
    process.off('unhandledRejection', on);
    assert.deepEqual(seen, [], 'unhandled rejections');
  });
}

async function listen(server: http.Server | net.Server, port = 0): Promise<number> {
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** A port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

type Role = 'healthy' | 'hang' | 'error' | 'throttle';
interface Point {
  metric: string;
  attributes: Record<string, string>;
  value: number;
}

/** Plays the performance server: healthy (decodes and keeps OTLP metrics), hanging, 500, 429. */
async function collector(retryAfter: () => string = () => '1') {
  const c = {
    role: 'healthy' as Role,
    url: '',
    requests: [] as { path: string; at: number; role: Role }[],
    answered: [] as { path: string; at: number; status: number }[],
    points: [] as Point[],
    open: 0,
    maxOpen: 0,
    hanging: 0,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const role = c.role;
      const path = req.url ?? '';
      c.requests.push({ path, at: Date.now(), role });
      const answer = (status: number, headers: Record<string, string> = {}) => res.writeHead(status, headers).end(() => c.answered.push({ path, at: Date.now(), status }));
      if (role === 'hang') {
        c.hanging++;
        res.on('close', () => c.hanging--);
        return;
      }
      if (role === 'error') return answer(500);
      if (role === 'throttle') return answer(429, { 'retry-after': retryAfter() });
      if (path === '/v1/metrics') c.points.push(...flatten(decodeMetricsRequest(zlib.gunzipSync(Buffer.concat(chunks)))));
      answer(200, { 'content-type': 'application/x-protobuf' });
    });
  });
  server.on('connection', (s) => {
    c.maxOpen = Math.max(c.maxOpen, ++c.open);
    s.on('close', () => c.open--);
  });
  c.url = `http://127.0.0.1:${await listen(server)}`;
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return Object.assign(c, { close, sum: (metric: string, attrs: Record<string, string> = {}) => sum(c.points, metric, attrs) });
}

function flatten(req: Json): Point[] {
  const out: Point[] = [];
  for (const rm of req.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics ?? [])
      for (const m of sm.metrics ?? []) {
        const dps = m.sum?.dataPoints ?? m.gauge?.dataPoints ?? m.exponentialHistogram?.dataPoints ?? [];
        for (const d of dps) out.push({ metric: m.name, attributes: Object.fromEntries((d.attributes ?? []).map((a: Json) => [a.key, a.value.stringValue])), value: m.exponentialHistogram ? Number(d.count) : Number(d.asDouble ?? 0) });
      }
  return out;
}

function sum(points: Point[], metric: string, attrs: Record<string, string>): number {
  return points.filter((p) => p.metric === metric && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v)).reduce((a, p) => a + p.value, 0);
}

interface PerfOptions {
  interval?: number;
  tracing?: boolean;
  timeoutMs?: number;
  maxBufferedPoints?: number;
}

function perfFor(t: TestContext, endpoint: string, o: PerfOptions = {}): PerformanceService {
  const perf = createPerformanceService({
    config: { monitoring: { interval: o.interval ?? 60_000, tracing: { enabled: o.tracing ?? false } }, sdk: { endpoint, timeoutMs: o.timeoutMs ?? 2000, maxBufferedPoints: o.maxBufferedPoints ?? 50_000 } },
    service: 'shop',
    handleSignals: false,
    runtimeMetrics: false,
    onWarning: () => {},
    exporter: { baseBackoffMs: 20, maxBackoffMs: 200, maxAttempts: 1000 },
  });
  t.after(() => perf.shutdown(200));
  return perf;
}

/** The app: Express (expressMetrics) or Fastify (fastifyMetrics), recording a counter per item viewed. */
async function shopApp(t: TestContext, perf: PerformanceService, framework: Framework) {
  let url: string;
  if (framework === 'express') {
    const app = express();
    app.use(expressMetrics(perf));
    app.get('/items/:id', (req, res) => {
      perf.recordCounter('shop.items.viewed', 1, { item: req.params.id });
      res.json({ id: req.params.id });
    });
    const server = http.createServer(app);
    url = `http://127.0.0.1:${await listen(server)}`;
    t.after(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
  } else {
    const app = Fastify();
    await app.register(fastifyMetrics(perf));
    app.get('/items/:id', async (req) => {
      const { id } = req.params as { id: string };
      perf.recordCounter('shop.items.viewed', 1, { item: id });
      return { id };
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => app.close());
  }
  let served = 0;
  return {
    get served() {
      return served;
    },
    /** GET /items/:id; asserts the answer and returns how long it took */
    async view(id: string | number): Promise<number> {
      const t0 = performance.now();
      const res = await fetch(`${url}/items/${id}`);
      assert.deepEqual(await res.json(), { id: String(id) });
      served++;
      return performance.now() - t0;
    },
  };
}

const REQUESTS = 'http.server.request.duration';
/** What the SDK does in Express it does in Fastify: every case runs on both. */
const FRAMEWORKS = ['express', 'fastify'] as const;
type Framework = (typeof FRAMEWORKS)[number];

for (const framework of FRAMEWORKS) {
  test(`refused: the app keeps answering, the buffer stays at its cap, and the drop counts reach the server once it is up (${framework})`, async (t) => {
    noUnhandled(t);
    const port = await closedPort();
    const perf = perfFor(t, `http://127.0.0.1:${port}`, { maxBufferedPoints: 100 });
    const shop = await shopApp(t, perf, framework);
    let enqueued = 0;
    for (let round = 0; round < 8; round++) {
      for (let k = 0; k < 30; k++) await shop.view(round * 30 + k); // 30 new series per snapshot
      enqueued += perf.tick().length;
      assert.ok(perf.exporter!.stats.bufferedPoints <= 100, `buffered ${perf.exporter!.stats.bufferedPoints}`);
    }
    const stats = perf.exporter!.stats;
    assert.equal(stats.sentPoints, 0);
    // points of a series already queued for the same minute (runtime gauges, the drop counts) merge into it
    assert.ok(stats.mergedPoints > 0, 'repeated series merged while queued');
    assert.equal(stats.droppedPoints + stats.bufferedPoints + stats.mergedPoints, enqueued, 'every point is buffered, merged or counted as dropped');
    assert.ok(perf.recorder.dropped.export_buffer_full >= enqueued - stats.mergedPoints - 100 - 30, `dropped ${perf.recorder.dropped.export_buffer_full} of ${enqueued}`);
    assert.equal(perf.recorder.dropped.export_buffer_full + perf.recorder.dropped.export_failed, stats.droppedPoints);
    assert.match(stats.lastError ?? '', /ECONNREFUSED/);

    // the real performance server comes up on that port
    const store = new SqliteStore(':memory:');
    await store.migrate();
    const server = await createServer({ config: testConfig({ server: { port } }), store });
    t.after(() => server.close());
    const atServer = async (reason: string) => {
      const series = (await store.listSeries(['solemate.sdk.dropped'])).filter((s) => s.attributes.reason === reason);
      const rows = await store.readRows(
        series.map((s) => s.id),
        0,
        Date.now() + 120_000,
        'minute',
      );
      return rows.reduce((a, r) => a + r.sum, 0);
    };
    await until('every drop counted at the server', async () => {
      perf.tick();
      await perf.flush(1000);
      return (await atServer('export_buffer_full')) === perf.recorder.dropped.export_buffer_full && (await atServer('export_failed')) === perf.recorder.dropped.export_failed;
    });
    assert.ok((await atServer('export_buffer_full')) > 0);
    assert.ok(stats.sentPoints > 0);
  });

  test(`hanging: one socket per exporter, each attempt times out, the app answers meanwhile, and nothing is lost once it answers (${framework})`, async (t) => {
    noUnhandled(t);
    const c = await collector();
    t.after(() => c.close());
    c.role = 'hang';
    // tracing on: two exporters (metrics and traces), so at most two requests in flight
    const perf = perfFor(t, c.url, { interval: 1000, tracing: true, timeoutMs: 1000 });
    const shop = await shopApp(t, perf, framework);
    let slowest = 0;
    let maxHanging = 0;
    const end = Date.now() + 4000;
    for (let i = 0; Date.now() < end; i++) {
      slowest = Math.max(slowest, await shop.view(i % 20));
      if (i % 5 === 0) perf.tick();
      maxHanging = Math.max(maxHanging, c.hanging);
      await sleep(50);
    }
    const attempts = (path: string) => c.requests.filter((r) => r.path === path && r.role === 'hang').length;
    assert.ok(attempts('/v1/metrics') >= 3 && attempts('/v1/traces') >= 2, `attempts: ${attempts('/v1/metrics')} metrics, ${attempts('/v1/traces')} traces — each ended by the 1 s timeout`);
    // a pile-up would hold one socket per attempt; the server may see a new connection a moment
    // before an aborted one's close
    assert.ok(c.maxOpen <= 3, `${c.maxOpen} sockets open at once over ${attempts('/v1/metrics') + attempts('/v1/traces')} attempts`);
    assert.ok(maxHanging <= 3, `${maxHanging} requests hanging at once`);
    t.diagnostic(`${attempts('/v1/metrics')} + ${attempts('/v1/traces')} attempts, ${c.maxOpen} sockets and ${maxHanging} requests open at most, slowest app request ${slowest.toFixed(1)} ms`);
    assert.ok(slowest < 500, `the slowest app request took ${slowest.toFixed(0)} ms while exports hung for 1000 ms each`);

    c.role = 'healthy';
    await until('every app request counted at the server', async () => {
      perf.tick();
      await perf.flush(1500);
      return c.sum(REQUESTS, { 'http.route': '/items/:id' }) === shop.served;
    });
    assert.equal(c.sum('shop.items.viewed'), shop.served);
    assert.equal(perf.exporter!.stats.droppedPoints, 0, 'a bounded wait loses nothing');
    assert.equal(c.hanging, 0, 'no request left hanging at the server');
  });

  test(`500: each batch is tried once (OTLP: not retryable), dropped and counted; the count arrives when the server recovers (${framework})`, async (t) => {
    noUnhandled(t);
    const c = await collector();
    t.after(() => c.close());
    c.role = 'error';
    const perf = perfFor(t, c.url);
    const shop = await shopApp(t, perf, framework);
    let enqueued = 0;
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 5; k++) await shop.view(`${round}-${k}`);
      enqueued += perf.tick().length;
      await until('the batch to be answered', () => c.answered.length === round + 1 && perf.exporter!.stats.bufferedPoints === 0);
    }
    await sleep(300); // time enough for a retry, at 20–200 ms of backoff, to show up
    assert.equal(c.requests.length, 3, 'one attempt per batch');
    assert.equal(perf.exporter!.stats.droppedPoints, enqueued);
    assert.equal(perf.recorder.dropped.export_failed, enqueued);
    assert.match(perf.exporter!.stats.lastError ?? '', /HTTP 500/);

    c.role = 'healthy';
    await until('the drop count at the server', async () => {
      perf.tick();
      await perf.flush(1000);
      return c.sum('solemate.sdk.dropped', { reason: 'export_failed' }) === perf.recorder.dropped.export_failed;
    });
    // the counts of rounds 2 and 3 travelled in batches that were themselves dropped: carried over
    assert.equal(c.sum('solemate.sdk.dropped', { reason: 'export_failed' }), enqueued);
  });

  test(`429 + Retry-After: no attempt before it (seconds or HTTP-date), even on flush(); the app answers; nothing is lost (${framework})`, async (t) => {
    noUnhandled(t);
    let dateMs = 0;
    const answers = [() => '2', () => new Date((dateMs = Math.ceil((Date.now() + 1000) / 1000) * 1000)).toUTCString()];
    const c = await collector(() => answers.shift()!());
    t.after(() => c.close());
    c.role = 'throttle';
    const perf = perfFor(t, c.url);
    const shop = await shopApp(t, perf, framework);
    for (let k = 0; k < 5; k++) await shop.view(k);
    perf.tick();
    await until('the first 429', () => c.answered.length === 1);
    await sleep(100);
    for (let k = 0; k < 5; k++) assert.ok((await shop.view(k)) < 500);
    perf.tick(); // queued behind the throttled batch
    await perf.flush(300); // must not send before Retry-After
    assert.equal(c.requests.length, 1, 'nothing sent during the Retry-After');
    await until('the second 429', () => c.answered.length === 2);
    c.role = 'healthy';
    await until('the data at the server', () => c.sum(REQUESTS, { 'http.route': '/items/:id' }) === 10, 8000);
    const [first, second] = c.answered;
    assert.ok(c.requests[1].at >= first.at + 2000 - 5, `second attempt ${c.requests[1].at - first.at} ms after "Retry-After: 2"`);
    assert.ok(c.requests[2].at >= dateMs - 5, `third attempt ${dateMs - c.requests[2].at} ms before the Retry-After date`);
    assert.ok(second.at < dateMs);
    assert.equal(c.sum('shop.items.viewed'), 10);
    assert.equal(perf.exporter!.stats.droppedPoints, 0);
  });

  test(`memory: thousands of records while the server is down leave the heap flat, the buffer at its cap (${framework})`, async (t) => {
    noUnhandled(t);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const CAP = 2000;
    const SERIES = 1000;
    const ROUNDS = 60;
    // what one histogram point of this shape costs while held
    const sample = new Recorder({ onWarning: () => {} });
    const h = sample.histogram('checkout.duration', { unit: 'ms' });
    for (let i = 0; i < CAP; i++) for (let k = 0; k < 5; k++) h.record(1 + ((i * 7 + k * 13) % 400), { item: String(i) });
    const h0 = heap();
    const held = sample.collect();
    const perPoint = (heap() - h0) / held.length;
    assert.ok(held.length === CAP && perPoint > 0);

    const perf = perfFor(t, `http://127.0.0.1:${await closedPort()}`, { interval: 1000, maxBufferedPoints: CAP });
    const shop = await shopApp(t, perf, framework);
    const record = () => {
      for (let i = 0; i < SERIES; i++) for (let k = 0; k < 5; k++) perf.recordTiming('checkout', 1 + ((i * 7 + k * 13) % 400), { item: String(i) });
    };
    // the series exist and the buffer is full before the baseline
    for (let i = 0; i < 3; i++) {
      record();
      perf.tick();
    }
    await shop.view(0);
    const before = heap();
    let enqueued = 0;
    let slowest = 0;
    for (let round = 0; round < ROUNDS; round++) {
      record();
      for (let k = 0; k < 10; k++) slowest = Math.max(slowest, await shop.view(k));
      enqueued += perf.tick().length;
      assert.ok(perf.exporter!.stats.bufferedPoints <= CAP, `buffered ${perf.exporter!.stats.bufferedPoints}`);
    }
    const growth = heap() - before;
    const produced = enqueued * perPoint;
    const bound = 2 * CAP * perPoint + 16 * 2 ** 20;
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
    t.diagnostic(`${enqueued} points (${mb(produced)} at ${perPoint.toFixed(0)} B each) produced while down; heap grew ${mb(growth)}; bound ${mb(bound)}; slowest app request ${slowest.toFixed(1)} ms`);
    assert.ok(produced > 3 * bound, `the test must be able to tell: ${(produced / 2 ** 20).toFixed(0)} MB produced vs a ${(bound / 2 ** 20).toFixed(0)} MB bound`);
    assert.ok(growth < bound, `heap grew ${(growth / 2 ** 20).toFixed(1)} MB over ${ROUNDS * SERIES * 5} records (${(produced / 2 ** 20).toFixed(0)} MB of points produced; bound ${(bound / 2 ** 20).toFixed(0)} MB)`);
    assert.ok(perf.recorder.dropped.export_buffer_full >= enqueued - CAP, 'what did not fit is counted');
    assert.ok(slowest < 1000, `slowest app request ${slowest.toFixed(0)} ms`);
  });
}
